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
from workbench.tui.screen_list import SCREENS

REAP_S = 2.0  # how often finished worker processes are collected
SCREEN_KEYS = Binding.Group("Screens", compact=False)  # one short footer entry "d e r c Screens" (fits at 80x24)


def _mode_factory(mode: str):
    def make() -> Screen:
        from workbench.tui import screens

        return screens.make_screen(mode)
    return make


class WorkbenchApp(App):
    """Views -> fusion -> head: compose, train in the background, watch, compare, inspect."""

    TITLE = "Workbench"
    CSS_PATH = str(Path(__file__).with_name("workbench.tcss"))  # absolute: subclasses elsewhere keep it
    MODES = {s.mode: _mode_factory(s.mode) for s in SCREENS}
    BINDINGS = [
        *[Binding(s.key, f"switch_mode('{s.mode}')", s.title, show=s.in_footer, group=SCREEN_KEYS) for s in SCREENS],
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
        self.workspace_changed()

    def workspace_changed(self) -> None:
        """Another workspace (or other plugins) now: the screen shown re-reads everything, its top bar
        included; the other mode screens are dropped and rebuilt fresh when next shown."""
        from workbench.tui.screens.base import WorkbenchScreen

        for info in SCREENS:
            if info.mode != self.current_mode:
                try:
                    self.remove_mode(info.mode)
                except Exception:  # noqa: BLE001 - never built yet (or a Textual without it): nothing stale
                    pass
                self.add_mode(info.mode, _mode_factory(info.mode))
        screen = self.screen
        if isinstance(screen, WorkbenchScreen):
            screen.refresh_navbar()
            screen.safe_reload()

    def workspace_failed(self, error: Exception) -> None:
        """The workspace cannot be used (not a workspace, newer schema): leave with its message, once."""
        if not getattr(self, "_workspace_failed", False):
            self._workspace_failed = True
            self.exit(return_code=2, message=f"workbench: {error}")

    # ------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        self.sub_title = self.ws_path.stem
        self.switch_mode(self.start_mode)
        self.set_interval(REAP_S, self.reap_workers)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Single-letter keys type into a focused text field: hide them from the footer meanwhile."""
        from workbench.tui.screens.base import typing_in

        if action in ("switch_mode", "quit") and typing_in(self.screen):
            return False
        return True

    def reap_workers(self) -> None:
        """Collect finished worker processes this app started (no ``<defunct>`` children)."""
        from workbench.jobs.launcher import reap_workers

        reap_workers()

    def on_unmount(self) -> None:
        if self._ws is not None:
            self._ws.close()

    def action_help(self) -> None:
        """Show the help page; it is built once (a long markdown table: ~1 s on a loaded core) and kept."""
        if not self.is_screen_installed("help"):
            from workbench.tui.screens.help import HelpScreen

            self.install_screen(HelpScreen(), "help")
        if self.get_screen("help") not in self.screen_stack:  # (the palette's Help while it is open)
            self.push_screen("help")

    def show_run(self, run_id: int) -> None:
        self.selected_run = run_id
        self.switch_mode("runs")
        if hasattr(self.screen, "select_run"):
            self.screen.select_run(run_id)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette (ctrl+p): every screen, and every action of every screen by name."""
        from workbench.tui.screen_list import key_label

        yield from super().get_system_commands(screen)
        for info in SCREENS:
            yield SystemCommand(f"Go to {info.title}", f"Open the {info.title} screen (key {info.key})",
                                lambda m=info.mode: self.switch_mode(m))
        for info in SCREENS:
            for binding in info.screen_class().BINDINGS:
                if not binding.show:
                    continue
                key = key_label(binding.key.split(",")[0])
                yield SystemCommand(f"{info.title}: {binding.description}",
                                    f"On the {info.title} screen (key {key})",
                                    lambda m=info.mode, a=binding.action: self.run_on_screen(m, a))
        yield SystemCommand("Help", "Key bindings and a short tour", self.action_help)

    def run_on_screen(self, mode: str, action: str) -> None:
        """Switch to ``mode`` and run one of its screen's actions there (for the command palette)."""
        self.switch_mode(mode)

        async def run() -> None:
            await self.screen.run_action(action)
        self.call_after_refresh(run)

    async def action_quit(self) -> None:
        """Leave; say when jobs keep running in their worker processes (they are not stopped)."""
        message = None
        if self._ws is not None:
            try:
                from workbench.jobs.queue import list_jobs

                active = list_jobs(self._ws, include_finished=False)
            except Exception:  # noqa: BLE001 - quitting must always work
                active = []
            if active:
                ids = ", ".join(str(j["id"]) for j in active)
                message = (f"workbench: {len(active)} job(s) keep running in the background (job {ids}); "
                           f"`workbench jobs ls` shows them, `workbench jobs cancel JOB` stops one")
        self.exit(message=message)


def run_app(workspace_spec=None, *, experiment: str | None = None) -> None:
    """Open the app on ``workspace_spec`` (a path or name; created if missing).

    ``experiment``: name of a saved experiment to open in the composer (``workbench demo``).
    """
    app = WorkbenchApp(workspace_spec, experiment=experiment)
    app.run()  # a file that is not a usable workspace ends the app with its message (exit code 2)
    if app.return_code:
        raise SystemExit(app.return_code)
