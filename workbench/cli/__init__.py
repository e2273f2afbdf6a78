"""The ``workbench`` command line. Subcommands live one per module and load lazily.

To add a built-in command, add its module to ``COMMANDS``; plugins add theirs
through the ``register_commands`` hook.
"""

from __future__ import annotations

import importlib
import sqlite3
import sys

import click

# command name -> "module:attribute"; imported only when the command runs (fast start).
COMMANDS = {
    "plugins": "workbench.cli.plugins_cmd:plugins",
    "workspace": "workbench.cli.workspace_cmd:workspace",
    "data": "workbench.cli.data_cmd:data",
    "demo": "workbench.cli.demo_cmd:demo",
    "jobs": "workbench.cli.jobs_cmd:jobs",
    "run": "workbench.cli.run_cmd:run",
    "runs": "workbench.cli.runs_cmd:runs",
    "recommend": "workbench.cli.recommend_cmd:recommend",
    "explain": "workbench.cli.explain_cmd:explain",
    "tune": "workbench.cli.tune_cmd:tune",
    "studies": "workbench.cli.tune_cmd:studies",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx, name):
        if name in COMMANDS:
            module_name, _, attr = COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, invoke_without_command=True)
@click.option("--workspace", "-w", envvar="WORKBENCH_WORKSPACE", default=None,
              help="Workspace path or name (default: workspaces/default.db).")
@click.version_option(package_name="seqrec-workbench")
@click.pass_context
def cli(ctx, workspace):
    """Workbench: multi-view, multi-scale sequence recommendation in the terminal."""
    ctx.ensure_object(dict)
    ctx.obj["workspace"] = workspace
    if ctx.invoked_subcommand is None:
        try:
            from workbench.tui.app import run_app
        except ImportError:
            click.echo(ctx.get_help())
            return
        run_app(workspace)


def _add_plugin_commands() -> None:
    from workbench.plugins import get_registry

    registry = get_registry()
    known = len(registry.errors)
    registry.add_commands(cli)  # a plugin whose hook raises is skipped; the others still add theirs
    for err in registry.errors[known:]:
        click.echo(f"workbench: plugin {err.plugin!r} ({err.package}) skipped: {err.error}", err=True)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] not in COMMANDS and not args[0].startswith("-"):
        _add_plugin_commands()  # only pay for plugin loading when a plugin command may be asked for
    try:
        cli.main(args=args, prog_name="workbench")
    except (sqlite3.Error, OSError) as e:
        # last resort for any command: a read-only, full or damaged workspace is one clear line
        from workbench.store.storage_errors import describe
        from workbench.store.workspace import last_opened

        message = describe(e, last_opened())
        if message is None:
            raise
        click.echo(f"Error: {message}", err=True)
        sys.exit(1)
