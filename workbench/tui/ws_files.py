"""Workspace files for the Workspaces screen, on top of :mod:`workbench.store.admin`.

Adds what the screen needs: the open workspace listed even outside the home,
names-or-paths, and refusing to delete the workspace that is open.
"""

from __future__ import annotations

from pathlib import Path

from workbench.store import WorkspaceError, admin, default_home  # noqa: F401 - admin is a submodule


class WorkspaceFileError(ValueError):
    pass


def list_workspaces(current: Path | None = None) -> list[dict]:
    """:func:`admin.summary` of each workspace in the home (plus ``current``), ``path`` resolved."""
    items = admin.list_workspaces()
    paths = {Path(i["path"]).resolve() for i in items}
    if current is not None and Path(current).resolve() not in paths:
        items.insert(0, admin.summary(Path(current)))
    for i in items:
        i["path"] = Path(i["path"]).resolve()
        i["size_mb"] = (i.get("size") or 0) / 1e6
    return items


def path_for(name_or_path: str) -> Path:
    s = name_or_path.strip()
    if "/" in s or s.endswith(".db"):
        return Path(s).expanduser().resolve()
    try:
        admin.check_name(s)
    except WorkspaceError as e:
        raise WorkspaceFileError(str(e)) from None
    return (default_home() / f"{s}.db").resolve()


def create(name_or_path: str) -> Path:
    try:
        return admin.create(path_for(name_or_path))
    except WorkspaceError as e:
        raise WorkspaceFileError(str(e)) from None


def copy(src: Path, dest_name_or_path: str) -> Path:
    """A consistent, self-contained copy (database and checkpoint files), safe while a job writes."""
    dest = path_for(dest_name_or_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        return Path(admin.export(Path(src), dest).path)
    except WorkspaceError as e:
        raise WorkspaceFileError(str(e)) from None


def delete(path: Path, current: Path | None = None) -> None:
    path = Path(path).resolve()
    if current is not None and path == Path(current).resolve():
        raise WorkspaceFileError("cannot delete the workspace that is open; open another one first")
    try:
        admin.remove(path)
    except WorkspaceError as e:
        raise WorkspaceFileError(str(e)) from None
