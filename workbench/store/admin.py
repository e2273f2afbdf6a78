"""Managing workspace files: create, list, remove, export and import.

Used by ``workbench workspace ...`` and the TUI. Every operation either
completes or leaves the files as they were: copies are written under a
temporary name next to their destination and renamed into place at the end.

File convention: a workspace ``NAME.db`` (plus SQLite's ``NAME.db-wal`` and
``NAME.db-shm`` while open) and its artifact folder ``NAME.files/``
(checkpoints). Paths stored in ``checkpoints.path`` are relative to that folder;
export and import rewrite absolute paths that point inside it.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from workbench.store.workspace import (
    WorkspaceError, default_home, files_dir_for, inspect_workspace_file, open_workspace,
)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # no '.': a dotted name reads as a path
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


@dataclass
class CopyReport:
    """What an export or import wrote, and the checkpoint paths it could not make relative."""

    path: Path
    files_dir: Path | None
    rewritten_paths: int = 0
    external_paths: list[str] = field(default_factory=list)


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise WorkspaceError(f"bad workspace name {name!r}: use letters, digits, '-' and '_' "
                             "(a name with '.' or '/' is taken as a path)")
    return name


def workspace_files(path: Path) -> list[Path]:
    """The files and folder that make up the workspace at ``path`` (those that exist)."""
    path = Path(path)
    out = [p for p in [path, *(Path(str(path) + s) for s in SIDE_SUFFIXES)] if p.exists()]
    if files_dir_for(path).is_dir():
        out.append(files_dir_for(path))
    return out


def _size(p: Path) -> int:
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size


def summary(path: Path) -> dict:
    """Name, path, total size in bytes, dataset and run counts, schema version (read-only).

    A file that is not a usable workspace gets ``error`` set instead of counts.
    """
    path = Path(path)
    info = {"name": path.stem, "path": str(path), "size": sum(_size(p) for p in workspace_files(path)),
            "datasets": None, "runs": None, "schema_version": None, "error": None}
    try:
        info["schema_version"] = inspect_workspace_file(path)
        conn = sqlite3.connect(str(path), timeout=30)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            for key in ("datasets", "runs"):
                if key in tables:
                    info[key] = conn.execute(f"SELECT COUNT(*) FROM {key}").fetchone()[0]
        finally:
            conn.close()
    except (WorkspaceError, sqlite3.Error) as e:
        info["error"] = str(e)
    return info


def list_workspaces(home: Path | None = None) -> list[dict]:
    """A :func:`summary` of every ``*.db`` in the workspaces home, by name."""
    home = Path(home) if home is not None else default_home()
    if not home.is_dir():
        return []
    return [summary(p) for p in sorted(home.glob("*.db")) if p.is_file()]


def create(path: Path) -> Path:
    """Create a new, empty (fully migrated) workspace; refuses an existing path."""
    path = Path(path)
    if path.name in ("", ".", "..") or str(path).endswith(("/", os.sep)):
        raise WorkspaceError(f"{path} is not a workspace file path (expected NAME or a path ending in .db)")
    if path.exists():
        raise WorkspaceError(f"{path} already exists")
    with open_workspace(path, create=True):
        pass
    return path


def live_jobs(path: Path) -> int:
    """Processes training in the workspace now: running jobs whose worker is alive, and runs whose
    owner lease is held by a live process (a foreground ``workbench run`` too). Read without migrating."""
    from workbench.jobs.queue import _is_dead
    from workbench.store.leases import owner_alive

    conn = sqlite3.connect(str(path), timeout=30)
    now = time.time()
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        trainers = set()
        def started(table: str, column: str) -> str:   # a workspace before migration m007 has no start times
            return column if column in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")} else "NULL"

        if "jobs" in tables:
            for run_id, pid, host, beat, pid_started in conn.execute(
                    f"SELECT run_id, pid, host, heartbeat, {started('jobs', 'pid_started')} FROM jobs "
                    "WHERE status = 'running'"):
                if not _is_dead(pid, host, beat, now, pid_started):
                    trainers.add(run_id)
        if "runs" in tables and "owner_pid" in {r[1] for r in conn.execute("PRAGMA table_info(runs)")}:
            for run_id, pid, host, beat, owner_started in conn.execute(
                    f"SELECT id, owner_pid, owner_host, owner_heartbeat, {started('runs', 'owner_started')} FROM runs "
                    "WHERE owner_pid IS NOT NULL"):
                if owner_alive(pid, host, beat, now, started=owner_started):
                    trainers.add(run_id)
        return len(trainers)
    finally:
        conn.close()


def remove(path: Path, force: bool = False) -> list[Path]:
    """Delete a workspace: the .db, -wal, -shm and the ``.files/`` folder.

    Refuses files that are not workspaces, and workspaces with a live running job
    unless ``force``.
    """
    path = Path(path)
    try:
        inspect_workspace_file(path)
    except WorkspaceError as e:
        if "newer Workbench" not in str(e):  # a newer workspace is still ours to delete
            raise
    else:
        running = live_jobs(path)
        if running and not force:
            raise WorkspaceError(f"{path} has {running} run(s) training now; cancel them first "
                                 "(`workbench jobs cancel`, or stop the foreground `workbench run`) or force the removal")
    removed = []
    for p in workspace_files(path):
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()
        removed.append(p)
    return removed


def _relativize_checkpoints(db_path: Path, source_files_dir: Path) -> tuple[int, list[str]]:
    """Rewrite absolute checkpoint paths inside ``source_files_dir`` to relative ones."""
    conn = sqlite3.connect(str(db_path))
    rewritten, external = 0, []
    root = source_files_dir.resolve()
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "checkpoints" not in tables:
            return 0, []
        with conn:
            for row_id, stored in conn.execute("SELECT id, path FROM checkpoints").fetchall():
                p = Path(stored)
                if not p.is_absolute():
                    continue
                try:
                    rel = p.resolve().relative_to(root).as_posix()
                except ValueError:
                    external.append(stored)
                    continue
                conn.execute("UPDATE checkpoints SET path = ? WHERE id = ?", (rel, row_id))
                rewritten += 1
        conn.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        conn.close()
    return rewritten, external


def _copy(src: Path, dest: Path) -> CopyReport:
    """Consistent copy of workspace ``src`` (WAL content included) plus its files to ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    tmp_db = dest.with_name(f".{dest.name}.{token}.partial")
    tmp_files = dest.with_name(f".{files_dir_for(dest).name}.{token}.partial")
    src_files = files_dir_for(src)
    try:
        conn = sqlite3.connect(str(src), timeout=30)
        try:
            out = sqlite3.connect(str(tmp_db))
            try:
                conn.backup(out)  # reads through the WAL, so uncheckpointed writes are included
            finally:
                out.close()
        finally:
            conn.close()
        rewritten, external = _relativize_checkpoints(tmp_db, src_files)
        if src_files.is_dir():
            shutil.copytree(src_files, tmp_files)
        if dest.exists() or files_dir_for(dest).exists():
            raise WorkspaceError(f"{dest} (or {files_dir_for(dest)}) appeared while copying; not overwritten")
        os.replace(tmp_db, dest)
        if tmp_files.exists():
            os.replace(tmp_files, files_dir_for(dest))
    except BaseException:
        for p in (tmp_db, Path(str(tmp_db) + "-journal")):
            p.unlink(missing_ok=True)
        shutil.rmtree(tmp_files, ignore_errors=True)
        raise
    return CopyReport(dest, files_dir_for(dest) if files_dir_for(dest).exists() else None,
                      rewritten, external)


def _check_free(dest: Path) -> None:
    for p in (dest, files_dir_for(dest)):
        if p.exists():
            raise WorkspaceError(f"{p} already exists; not overwritten")


def export(path: Path, dest: Path) -> CopyReport:
    """Write a self-contained copy of the workspace at ``path`` to ``dest``.

    ``dest`` is a file path (``backup.db``) or an existing folder (the copy is
    ``dest/NAME.db``). Checkpoint files in ``NAME.files/`` are copied next to it.
    """
    path, dest = Path(path), Path(dest)
    inspect_workspace_file(path)
    if dest.is_dir():
        dest = dest / path.name
    if dest.suffix != ".db":
        raise WorkspaceError(f"export destination {dest} must end in .db (or be an existing folder)")
    _check_free(dest)
    return _copy(path, dest)


def import_(src: Path, home: Path | None = None, name: str | None = None) -> CopyReport:
    """Copy the workspace file ``src`` (and its ``.files/``) into the home as ``name``.

    Refuses files that are not workspaces, or that a newer Workbench wrote, and an
    existing name. An older workspace is upgraded (on the copy; ``src`` is only read).
    """
    src = Path(src)
    inspect_workspace_file(src)
    home = Path(home) if home is not None else default_home()
    name = check_name(name or (src.name[:-3] if src.name.endswith(".db") else src.stem))
    dest = home / f"{name}.db"
    _check_free(dest)
    report = _copy(src, dest)
    try:
        with open_workspace(dest):  # applies pending migrations to the imported copy
            pass
    except BaseException:
        remove_quietly(dest)
        raise
    return report


def remove_quietly(path: Path) -> None:
    for p in workspace_files(Path(path)):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


__all__ = ["CopyReport", "check_name", "create", "export", "import_", "list_workspaces", "remove",
           "summary", "workspace_files"]
