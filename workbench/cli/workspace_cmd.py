"""``workbench workspace new|ls|rm|export|import``: managing workspace files.

Named workspaces live in the workspaces home (``$WORKBENCH_HOME``, default
``./workspaces``) as ``NAME.db`` plus a ``NAME.files/`` folder of checkpoints.
Wherever a NAME is accepted, a path to a ``.db`` file works too.
"""

from __future__ import annotations

from pathlib import Path

import click

from workbench.cli.common import echo_json, fail, workspace_spec


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _path(spec: str) -> Path:
    from workbench.store import resolve_workspace_path

    return resolve_workspace_path(spec)


def _report_copy(verb: str, report) -> None:
    click.echo(f"{verb} {report.path}" + (f" (files: {report.files_dir})" if report.files_dir else ""))
    if report.rewritten_paths:
        click.echo(f"  {report.rewritten_paths} checkpoint path(s) made relative to the files folder")
    for p in report.external_paths:
        click.echo(f"  warning: checkpoint {p} is outside the workspace's files folder and was not copied",
                   err=True)


@click.group()
def workspace():
    """Create, list, remove, export and import workspaces."""


@workspace.command("new")
@click.argument("name")
def new_cmd(name):
    """Create an empty workspace NAME (in the workspaces home) or at PATH."""
    from workbench.store import WorkspaceError, admin

    try:
        if "/" not in name and not Path(name).suffix:
            admin.check_name(name)
        path = admin.create(_path(name))
    except WorkspaceError as e:
        fail(str(e))
    click.echo(f"created workspace {path}")


@workspace.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def ls_cmd(as_json):
    """List the workspaces in the workspaces home."""
    from workbench.store import admin, default_home

    rows = admin.list_workspaces()
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"no workspaces in {default_home()} (create one with `workbench workspace new NAME`)")
        return
    header = f"{'NAME':<20} {'SIZE':>10} {'DATASETS':>8} {'RUNS':>6} {'SCHEMA':>6}  PATH"
    click.echo(header)
    for r in rows:
        if r["error"]:
            click.echo(f"{r['name']:<20} {_human_size(r['size']):>10} {'-':>8} {'-':>6} {'-':>6}  "
                       f"{r['path']}  ({r['error']})")
        else:
            click.echo(f"{r['name']:<20} {_human_size(r['size']):>10} {r['datasets']:>8} {r['runs']:>6} "
                       f"{r['schema_version']:>6}  {r['path']}")


@workspace.command("info")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def info_cmd(ctx, name, as_json):
    """Show workspace NAME, or the one in use (--workspace, $WORKBENCH_WORKSPACE, else `default`)."""
    from workbench.store import admin
    from workbench.store.workspace import files_dir_for

    path = _path(name) if name else _path_in_use(ctx)
    if not path.exists():
        fail(f"no workspace at {path} (create it with `workbench workspace new {path.stem}`)")
    row = {**admin.summary(path), "files_dir": str(files_dir_for(path))}
    if as_json:
        echo_json(row)
        return
    for key in ("name", "path", "files_dir", "schema_version", "datasets", "runs"):
        click.echo(f"{key + ':':<16}{row[key]}")
    click.echo(f"{'size:':<16}{_human_size(row['size'])}")
    if row["error"]:
        fail(row["error"])


def _path_in_use(ctx) -> Path:
    from workbench.store import resolve_workspace_path

    return resolve_workspace_path(workspace_spec(ctx))  # None -> $WORKBENCH_WORKSPACE -> default


@workspace.command("rm")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Remove even while a job is running in it.")
def rm_cmd(name, yes, force):
    """Delete workspace NAME: its .db, -wal, -shm and NAME.files/ folder."""
    from workbench.store import WorkspaceError, admin

    path = _path(name)
    if not path.exists():
        fail(f"no workspace at {path}")
    parts = admin.workspace_files(path)
    if not yes:
        listing = "\n".join(f"  {p}" for p in parts)
        if not click.confirm(f"Delete workspace {path.stem}? This removes:\n{listing}\n", default=False):
            click.echo("nothing removed")
            return
    try:
        removed = admin.remove(path, force=force)
    except WorkspaceError as e:
        fail(f"{e}; nothing removed")
    click.echo(f"removed {len(removed)} file(s)/folder(s) of workspace {path.stem}")


@workspace.command("export")
@click.argument("name")
@click.argument("dest", type=click.Path())
def export_cmd(name, dest):
    """Write a self-contained copy of workspace NAME to DEST (a .db path or a folder)."""
    from workbench.store import WorkspaceError, admin

    try:
        report = admin.export(_path(name), Path(dest))
    except WorkspaceError as e:
        fail(str(e))
    _report_copy("exported to", report)


@workspace.command("import")
@click.argument("src", type=click.Path())
@click.option("--name", default=None, help="Name in the workspaces home (default: the file's name).")
def import_cmd(src, name):
    """Copy the workspace file SRC (and its .files/ folder) into the workspaces home."""
    from workbench.store import WorkspaceError, admin

    try:
        report = admin.import_(Path(src), name=name)
    except WorkspaceError as e:
        fail(str(e))
    _report_copy("imported as", report)
