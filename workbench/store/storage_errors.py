"""One clear line for a workspace that cannot be written or read: read-only, disk full, damaged.

:func:`describe` turns an ``sqlite3.Error`` or ``OSError`` raised while using a workspace into a
message naming the file and what to do, or None for an error that is not about storage (that one
is a bug or another failure and keeps its own report). Used by the CLI's last resort handler, by
:func:`workbench.store.workspace.open_workspace`, and by the job worker, whose run and job errors
must say why it stopped.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

READ_ONLY_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}
FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG} | ({errno.EDQUOT} if hasattr(errno, "EDQUOT") else set())


def kind_of(exc: BaseException) -> str | None:
    """``"read-only"``, ``"full"``, ``"damaged"``, ``"io"`` or None (not a storage error)."""
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or ""
        text = str(exc).lower()
        if name.startswith("SQLITE_READONLY") or "readonly database" in text:
            return "read-only"
        if name == "SQLITE_FULL" or "database or disk is full" in text:
            return "full"
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
            return "damaged"
        if name.startswith("SQLITE_CANTOPEN") or "unable to open database file" in text:
            return "read-only"
        if name.startswith("SQLITE_IOERR") or "disk i/o error" in text:
            return "io"
        return None
    if isinstance(exc, OSError):
        if exc.errno in READ_ONLY_ERRNOS:
            return "read-only"
        if exc.errno in FULL_ERRNOS:
            return "full"
        if exc.errno == errno.EIO:
            return "io"
    return None


def describe(exc: BaseException, workspace: Path | str | None) -> str | None:
    """The one-line message for a storage error of ``workspace`` (None when ``exc`` is not one)."""
    kind = kind_of(exc)
    if kind is None:
        return None
    detail = (getattr(exc, "strerror", None) if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
    where = Path(exc.filename) if isinstance(exc, OSError) and exc.filename else Path(workspace) if workspace else None
    name = str(where) if where else "the workspace"
    if kind == "read-only" and isinstance(exc, OSError):
        return f"{name}: {detail}; check the permissions of this file and its folder"
    if kind == "read-only":
        return (f"{name} cannot be written ({detail}): it, or the folder it is in, is read-only for this user; "
                "Workbench needs write access to the workspace file, its folder and its .files folder")
    if kind == "full":
        return f"no space left to write {name} ({detail}); free some disk space and try again"
    if kind == "damaged":
        return (f"{name} is damaged ({detail}); check it with `sqlite3 {name} \"PRAGMA integrity_check\"` "
                "and restore it from a backup (or copy what is readable with `sqlite3 ... .recover`)")
    return f"cannot read or write {name} ({detail}): the disk or file system reported an error"
