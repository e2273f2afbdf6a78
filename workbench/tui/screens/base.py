"""The frame every mode screen shares: navigation bar on top, key footer below, reload on show."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from workbench.tui.widgets.navbar import NavBar


class WorkbenchScreen(Screen):
    MODE = ""

    def compose(self) -> ComposeResult:
        yield NavBar(self.MODE)
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:  # pragma: no cover - overridden
        yield from ()

    @property
    def ws(self):
        return self.app.ws

    def reload(self) -> None:
        """Re-read what the screen shows from the workspace."""

    def on_screen_resume(self) -> None:
        self.query_one(NavBar).refresh_label()
        # after the frame: the first paint does not wait for SQLite (sqlite_utils + numpy import)
        self.call_after_refresh(self.safe_reload)

    def safe_reload(self) -> None:
        from workbench.store import WorkspaceError

        try:
            self.reload()
        except WorkspaceError as e:  # not a workspace, or from a newer Workbench: say so and leave
            self.app.workspace_failed(e)
