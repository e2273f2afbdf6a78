"""Helpers shared by CLI commands: opening the workspace, printing JSON, errors."""

from __future__ import annotations

import json
import sys
from typing import Any

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


def fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)
