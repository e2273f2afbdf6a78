"""Opening workspaces: path resolution, pragmas, migrations, version refusal."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: the CLI lists workspaces without it
    import sqlite_utils

from workbench.store import migrations
from workbench.store.storage_errors import describe

ENV_WORKSPACE = "WORKBENCH_WORKSPACE"
ENV_HOME = "WORKBENCH_HOME"
DEFAULT_NAME = "default"


class WorkspaceError(RuntimeError):
    """A workspace that cannot be opened (missing, corrupt, or from a newer Workbench)."""


def default_home() -> Path:
    """Folder holding named workspaces: ``$WORKBENCH_HOME`` or ``./workspaces``."""
    return Path(os.environ.get(ENV_HOME) or "workspaces")


def resolve_workspace_path(spec: str | os.PathLike | None = None) -> Path:
    """``spec`` is a path (has a suffix or a slash) or a name in the workspaces home.

    With no spec: ``$WORKBENCH_WORKSPACE``, else the workspace named ``default``.
    """
    spec = spec if spec is not None else os.environ.get(ENV_WORKSPACE) or DEFAULT_NAME
    s = str(spec)
    if os.sep in s or "/" in s or s.endswith(".db") or Path(s).suffix:
        return Path(s)
    return default_home() / f"{s}.db"


class Workspace:
    """An open workspace: ``ws.db`` is the :class:`sqlite_utils.Database`.

    Checkpoints and other artifact files live in :attr:`files_dir`
    (``<db path without .db>.files/``). Paths stored in the database should be
    relative to that folder (:meth:`relative_file`), so a workspace can be moved,
    exported and imported; :meth:`resolve_file` turns a stored path back into a real one.
    """

    def __init__(self, path: Path, db: sqlite_utils.Database):
        self.path = path
        self.db = db

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def files_dir(self) -> Path:
        """Folder for this workspace's checkpoint/artifact files (not created here)."""
        return files_dir_for(self.path)

    def resolve_file(self, stored: str | os.PathLike) -> Path:
        """A path as stored in the database -> a usable path (relative ones are under :attr:`files_dir`)."""
        p = Path(stored)
        return p if p.is_absolute() else self.files_dir / p

    def relative_file(self, path: str | os.PathLike) -> str:
        """The string to store for ``path``: relative to :attr:`files_dir` when inside it (POSIX separators)."""
        p = Path(path)
        try:
            return p.resolve().relative_to(self.files_dir.resolve()).as_posix()
        except ValueError:
            return str(p)

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def files_dir_for(path: str | os.PathLike) -> Path:
    """``<db path without .db>.files`` for a workspace file path."""
    p = Path(path)
    stem = p.name[:-3] if p.name.endswith(".db") else p.name
    return p.with_name(stem + ".files")


SQLITE_HEADER = b"SQLite format 3\x00"


def inspect_workspace_file(path: Path, allow_empty: bool = False) -> int:
    """Check, without changing a byte, that ``path`` is a Workbench workspace this build can open.

    Returns its schema version (0 for an empty file when ``allow_empty``).
    Raises :class:`WorkspaceError` for a missing file, a file that is not SQLite,
    an SQLite database that is not a workspace, or one written by a newer Workbench.
    """
    path = Path(path)
    if not path.is_file():
        raise WorkspaceError(f"no workspace at {path}")
    if path.stat().st_size == 0:
        if allow_empty:
            return 0
        raise WorkspaceError(f"{path} is an empty file, not a Workbench workspace")
    # The header is checked by SQLite itself, not with open()/close() here: closing any
    # descriptor of the file drops every POSIX lock this process holds on it, breaking
    # other connections of the same process (a second workspace connection in a thread
    # then fails with "disk I/O error"; see sqlite.org/howtocorrupt.html, 2.2).
    # A plain connection without pragmas and without writes leaves the file as it is.
    try:
        conn = sqlite3.connect(str(path), timeout=30)
    except sqlite3.Error as e:
        raise WorkspaceError(f"{path} cannot be opened: {e}") from None
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "_workbench_migrations" not in tables:
            if not tables and allow_empty:
                return 0
            raise WorkspaceError(f"{path} is an SQLite database but not a Workbench workspace "
                                 "(it has no _workbench_migrations table)")
        version = conn.execute("SELECT MAX(version) FROM _workbench_migrations").fetchone()[0] or 0
    except sqlite3.DatabaseError as e:
        if "not a database" in str(e):
            raise WorkspaceError(f"{path} is not a Workbench workspace (not an SQLite database file)") from None
        raise WorkspaceError(describe(e, path) or f"{path} is not a readable Workbench workspace: {e}") from None
    finally:
        conn.close()
    if version > migrations.SCHEMA_VERSION:
        raise WorkspaceError(
            f"{path} was written by a newer Workbench (schema {version}, this one knows up to "
            f"{migrations.SCHEMA_VERSION}); upgrade seqrec-workbench to open it")
    return version


def connect(path: Path) -> sqlite_utils.Database:
    import sqlite_utils

    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA busy_timeout=30000")
    _enable_wal(conn)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def _enable_wal(conn: sqlite3.Connection, patience: float = 30.0) -> None:
    """Switch to WAL. Changing the journal mode does not wait on the busy handler, so while
    another process is creating the same file we retry for up to ``patience`` seconds."""
    deadline = time.monotonic() + patience
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


_LAST_OPENED: list[Path] = []


def shrink_wal(path: str | os.PathLike) -> None:
    """Checkpoint workspace ``path``'s write-ahead log and truncate it (best effort, never raises): on a
    full disk this gives the log's space back so that a last write can land."""
    try:
        conn = sqlite3.connect(str(path), timeout=5)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except sqlite3.Error:
        pass


def last_opened() -> Path | None:
    """The workspace this process opened last (named by the CLI's one-line storage errors)."""
    return _LAST_OPENED[-1] if _LAST_OPENED else None


def open_workspace(spec: str | os.PathLike | None = None, create: bool = False) -> Workspace:
    """Open (and upgrade) a workspace; create it only when ``create`` is true.

    A file that is not a workspace (not SQLite, another application's database,
    or a workspace from a newer Workbench) is refused with :class:`WorkspaceError`
    before anything is written to it.
    """
    path = resolve_workspace_path(spec)
    if not path.exists():
        if not create:
            raise WorkspaceError(f"no workspace at {path} (create it with `workbench workspace new {path.stem}`)")
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        inspect_workspace_file(path, allow_empty=create)
    _LAST_OPENED[:] = [path]
    try:
        db = connect(path)
    except sqlite3.DatabaseError as e:
        raise WorkspaceError(describe(e, path) or f"{path} is not a Workbench workspace: {e}") from None
    try:
        migrations.migrate(db)
    except migrations.NewerSchemaError as e:  # another process upgraded it meanwhile
        db.close()
        raise WorkspaceError(f"{path}: {e}") from None
    except sqlite3.Error as e:   # a migration that cannot be written: read-only, full, damaged
        db.close()
        message = describe(e, path)
        if message is None:
            raise
        raise WorkspaceError(message) from None
    except BaseException:
        db.close()
        raise
    return Workspace(path, db)
