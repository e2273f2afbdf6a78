"""Workspace files for the Workspaces screen: list, create, copy (consistent snapshot), delete."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from workbench.store import default_home, open_workspace

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class WorkspaceFileError(ValueError):
    pass


def list_workspaces(current: Path | None = None) -> list[dict]:
    """Workspace files in the workspaces home (plus ``current``): name, path, size, counts."""
    paths = sorted(default_home().glob("*.db")) if default_home().is_dir() else []
    paths = [p.resolve() for p in paths]
    if current is not None and Path(current).resolve() not in paths:
        paths.insert(0, Path(current).resolve())
    out = []
    for p in paths:
        info = {"name": p.stem, "path": p, "size_mb": p.stat().st_size / 1e6 if p.exists() else 0.0,
                "datasets": None, "runs": None, "error": None}
        try:
            conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=2)
            try:
                info["datasets"] = conn.execute("SELECT COUNT(*) FROM datasets").fetchone()[0]
                info["runs"] = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error as e:
            info["error"] = str(e)
        out.append(info)
    return out


def path_for(name_or_path: str) -> Path:
    s = name_or_path.strip()
    if "/" in s or s.endswith(".db"):
        return Path(s).expanduser().resolve()
    if not _NAME.match(s):
        raise WorkspaceFileError(f"{s!r} is not a valid workspace name (letters, digits, _ . -)")
    return (default_home() / f"{s}.db").resolve()


def create(name_or_path: str) -> Path:
    path = path_for(name_or_path)
    if path.exists():
        raise WorkspaceFileError(f"{path} already exists")
    open_workspace(path, create=True).close()
    return path


def copy(src: Path, dest_name_or_path: str) -> Path:
    """A consistent copy of ``src`` (``VACUUM INTO``, safe while a job writes to it)."""
    dest = path_for(dest_name_or_path)
    if dest.exists():
        raise WorkspaceFileError(f"{dest} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(src), timeout=30)
    try:
        conn.execute("VACUUM INTO ?", (str(dest),))
    finally:
        conn.close()
    return dest


def delete(path: Path, current: Path | None = None) -> None:
    path = Path(path).resolve()
    if current is not None and path == Path(current).resolve():
        raise WorkspaceFileError("cannot delete the workspace that is open; open another one first")
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            p.unlink()
