"""Helpers shared by CLI commands: opening the workspace, printing JSON, errors."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any, Iterator

import click


def workspace_spec(ctx: click.Context) -> str | None:
    root = ctx.find_root()
    return (root.obj or {}).get("workspace")


def open_ws(ctx: click.Context, create: bool = False):
    from workbench.store import WorkspaceError, open_workspace

    try:
        return open_workspace(workspace_spec(ctx), create=create)
    except WorkspaceError as e:
        fail(str(e))


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


def run_failure(run_id: int, e: BaseException, ws_path=None, traceback_hint: bool = True) -> str:
    """The one line for a run that raised ``e``: a storage error (read-only, disk full, damaged
    workspace) says so and how to go on; anything else names the exception."""
    from workbench.store.storage_errors import describe, kind_of

    storage = describe(e, ws_path)
    if storage:
        then = "" if kind_of(e) == "damaged" else f"; then continue it with `workbench runs resume {run_id}`"
        return f"run {run_id} stopped: {storage}{then}"
    hint = f" (traceback: `workbench runs show {run_id}`)" if traceback_hint else ""
    return f"run {run_id} failed: {type(e).__name__}: {e}{hint}"


def fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@contextlib.contextmanager
def workspace_for_new_runs(ctx: click.Context, experiment: str) -> Iterator:
    """The open workspace to create runs of ``experiment`` (a file name) in, closed on leaving; a
    :class:`~workbench.options.ConfigError` inside ends the command with a one-line error naming the file."""
    from workbench.options import ConfigError

    ws = open_ws(ctx)
    try:
        yield ws
    except ConfigError as e:
        fail(f"{experiment}: {e}")
    finally:
        ws.close()


def parse_group_id(text: str, what: str = "group") -> int:
    """``3`` or ``g3`` -> 3; anything else ends the command with a one-line error."""
    ident = text.removeprefix("g")
    if not ident.isdigit():
        fail(f"{text!r} is not a {what} id (e.g. 2 or g2)")
    return int(ident)
