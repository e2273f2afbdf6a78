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

from workbench.store import resolve_workspace_path

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
    CSS_PATH = str(Path(__file__).with_name("workbench.tcss"))  # absolute: subclasses elsewhere keep it
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
        self._ws = None  # opened on first use, after the first frame (sqlite_utils + numpy cost ~0.3 s)
        self.initial_experiment = experiment
        self.start_mode = start_mode or ("compose" if experiment else "runs")
        self.selected_run: int | None = None

    # ------------------------------------------------------------ workspace
    @property
    def ws(self):
        """The open :class:`workbench.store.Workspace` (created if missing)."""
        if self._ws is None:
            from workbench.store import open_workspace

            self._ws = open_workspace(self.ws_path, create=True)
        return self._ws

    def open_workspace_path(self, path: Path, *, create: bool = False) -> None:
        """Switch the whole app to another workspace file."""
        from workbench.store import open_workspace

        new = open_workspace(path, create=create)
        old, self._ws = self._ws, new
        self.ws_path = Path(new.path).resolve()
        self.selected_run = None
        if old is not None:
            old.close()
        self.sub_title = self.ws_path.stem
        if isinstance(self.screen, Screen) and hasattr(self.screen, "reload"):
            self.screen.reload()

    def workspace_failed(self, error: Exception) -> None:
        """The workspace cannot be used (not a workspace, newer schema): leave with its message, once."""
        if not getattr(self, "_workspace_failed", False):
            self._workspace_failed = True
            self.exit(return_code=2, message=f"workbench: {error}")

    # ------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        self.sub_title = self.ws_path.stem
        self.switch_mode(self.start_mode)

    def on_unmount(self) -> None:
        if self._ws is not None:
            self._ws.close()

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
    app = WorkbenchApp(workspace_spec, experiment=experiment)
    app.run()  # a file that is not a usable workspace ends the app with its message (exit code 2)
    if app.return_code:
        raise SystemExit(app.return_code)
