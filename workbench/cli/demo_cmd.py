"""``workbench demo``: a ready-made workspace with the generated demo dataset."""

from __future__ import annotations

import click

from workbench.cli.common import echo_json


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the demo dataset's stats as JSON.")
@click.option("--no-app", is_flag=True, help="Do not open the app afterwards (it opens only in a terminal).")
@click.pass_context
def demo(ctx, as_json, no_app):
    """Create/open the demo workspace (workspaces/demo.db) and import the demo dataset if absent."""
    from workbench.cli.common import fail, workspace_spec
    from workbench.data.demo import DEMO_DATASET, ensure_demo_workspace
    from workbench.data.stats import dataset_stats, format_stats
    from workbench.store import WorkspaceError

    try:
        ws = ensure_demo_workspace(workspace_spec(ctx))
    except WorkspaceError as e:
        fail(str(e))
    try:
        s = dataset_stats(ws, DEMO_DATASET)
        path = ws.path
    finally:
        ws.close()
    if as_json:
        echo_json({"workspace": str(path), **s})
        return
    click.echo(f"demo workspace: {path}")
    click.echo(format_stats(s))
    import sys

    if not no_app and sys.stdin.isatty() and sys.stdout.isatty():
        from workbench.tui.demo_experiment import open_demo_app

        open_demo_app(path)  # the app on the demo workspace, composer open on a ready experiment
