"""Opening workspaces: path resolution, pragmas, migrations, version refusal."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from workbench.store import migrations

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
    """An open workspace: ``ws.db`` is the :class:`sqlite_utils.Database`."""

    def __init__(self, path: Path, db: sqlite_utils.Database):
        self.path = path
        self.db = db

    @property
    def name(self) -> str:
        return self.path.stem

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(path: Path) -> sqlite_utils.Database:
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=30000")
    return db


def open_workspace(spec: str | os.PathLike | None = None, create: bool = False) -> Workspace:
    """Open (and upgrade) a workspace; create it only when ``create`` is true."""
    path = resolve_workspace_path(spec)
    if not path.exists():
        if not create:
            raise WorkspaceError(f"no workspace at {path} (create it with `workbench workspace new {path.stem}`)")
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = connect(path)
        version = migrations.current_version(db)
    except sqlite3.DatabaseError as e:
        raise WorkspaceError(f"{path} is not a Workbench workspace: {e}") from None
    if version > migrations.SCHEMA_VERSION:
        db.close()
        raise WorkspaceError(
            f"{path} was written by a newer Workbench (schema {version}, this one knows up to "
            f"{migrations.SCHEMA_VERSION}); upgrade seqrec-workbench to open it")
    if path.stat().st_size > 0 and version == 0 and db.table_names() and \
            "_workbench_migrations" not in db.table_names():
        db.close()
        raise WorkspaceError(f"{path} is an SQLite file but not a Workbench workspace")
    migrations.migrate(db)
    return Workspace(path, db)
