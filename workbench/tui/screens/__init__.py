"""One module per screen; :func:`make_screen` imports only the one asked for."""

from __future__ import annotations

import importlib

_SCREENS = {
    "workspaces": "workbench.tui.screens.workspaces:WorkspacesScreen",
    "datasets": "workbench.tui.screens.datasets:DatasetsScreen",
    "compose": "workbench.tui.screens.composer:ComposerScreen",
    "runs": "workbench.tui.screens.runs:RunsScreen",
    "compare": "workbench.tui.screens.compare:CompareScreen",
    "inspect": "workbench.tui.screens.inspect:InspectScreen",
    "plugins": "workbench.tui.screens.plugins:PluginsScreen",
}


def make_screen(mode: str):
    module, _, cls = _SCREENS[mode].partition(":")
    return getattr(importlib.import_module(module), cls)()
