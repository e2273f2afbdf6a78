"""The Workbench Textual app: a thin shell of modes (one screen each) over one open workspace.

``run_app(workspace_spec, experiment=None)`` is what ``workbench`` (no
arguments) and ``workbench demo`` call. Nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from workbench.store import Workspace, open_workspace, resolve_workspace_path

MODE_KEYS = [  # (mode, key, title)
    ("workspaces", "w", "Workspaces"),
    ("datasets", "d", "Datasets"),
    ("compose", "e", "Experiment"),
    ("runs", "r", "Runs"),
    ("compare", "c", "Compare"),
    ("inspect", "i", "Inspect"),
    ("plugins", "p", "Plugins"),
]


def _mode_factory(mode: str):
    def make() -> Screen:
        from workbench.tui import screens

        return screens.make_screen(mode)
    return make


class WorkbenchApp(App):
    """Views -> fusion -> head: compose, train in the background, watch, compare, inspect."""

    TITLE = "Workbench"
    CSS_PATH = "workbench.tcss"
    MODES = {mode: _mode_factory(mode) for mode, _, _ in MODE_KEYS}
    BINDINGS = [
        *[Binding(key, f"switch_mode('{mode}')", title, show=mode in ("datasets", "compose", "runs", "compare"))
          for mode, key, title in MODE_KEYS],
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, workspace_spec=None, *, experiment: str | None = None, start_mode: str | None = None):
        super().__init__()
        self.ws_path: Path = resolve_workspace_path(workspace_spec).resolve()
        self.ws: Workspace = open_workspace(self.ws_path, create=True)
        self.initial_experiment = experiment
        self.start_mode = start_mode or ("compose" if experiment else "runs")
        self.selected_run: int | None = None

    # ------------------------------------------------------------ workspace
    def open_workspace_path(self, path: Path, *, create: bool = False) -> None:
        """Switch the whole app to another workspace file."""
        new = open_workspace(path, create=create)
        old, self.ws = self.ws, new
        self.ws_path = Path(new.path).resolve()
        self.selected_run = None
        old.close()
        self.sub_title = self.ws_path.stem
        if isinstance(self.screen, Screen) and hasattr(self.screen, "reload"):
            self.screen.reload()

    # ------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        self.sub_title = self.ws_path.stem
        self.switch_mode(self.start_mode)

    def on_unmount(self) -> None:
        self.ws.close()

    def action_help(self) -> None:
        from workbench.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def show_run(self, run_id: int) -> None:
        self.selected_run = run_id
        self.switch_mode("runs")
        if hasattr(self.screen, "select_run"):
            self.screen.select_run(run_id)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode, key, title in MODE_KEYS:
            yield SystemCommand(f"Go to {title}", f"Open the {title} screen (key {key})",
                                lambda m=mode: self.switch_mode(m))
        yield SystemCommand("Import dataset", "Open the import wizard", self._import_dataset)
        yield SystemCommand("Launch experiment", "Validate the composed experiment and start it in the background",
                            self._launch)
        yield SystemCommand("Help", "Key bindings and a short tour", self.action_help)

    def _import_dataset(self) -> None:
        from workbench.tui.screens.import_wizard import ImportWizard

        self.push_screen(ImportWizard())

    def _launch(self) -> None:
        self.switch_mode("compose")
        self.call_after_refresh(lambda: getattr(self.screen, "action_launch", lambda: None)())


def run_app(workspace_spec=None, *, experiment: str | None = None) -> None:
    """Open the app on ``workspace_spec`` (a path or name; created if missing).

    ``experiment``: name of a saved experiment to open in the composer (``workbench demo``).
    """
    WorkbenchApp(workspace_spec, experiment=experiment).run()
