"""The frame every mode screen shares: navigation bar on top, key footer below, reload on show.

Keyboard rules shared by all screens: ``escape`` leaves a text field (so the
single-letter keys work again), and while a text field has the focus the
footer hides the single-letter keys, which would type into the field.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, TextArea

from workbench.tui.widgets.navbar import NavBar

TEXT_FIELDS = (Input, TextArea)


def typing_in(screen: Screen) -> bool:
    """True while a text field of ``screen`` has the focus."""
    return isinstance(screen.focused, TEXT_FIELDS)


def letter_actions(bindings) -> set[str]:
    """Action names whose every key is one printable character (they type into a text field instead)."""
    out = set()
    for b in bindings:
        keys = [k.strip() for k in b.key.split(",")]
        if all((len(k) == 1 and k.isprintable()) or k == "space" for k in keys):
            out.add(b.action.split("(")[0])
    return out


class WorkbenchScreen(Screen):
    MODE = ""
    BINDINGS = [Binding("escape", "leave_field", "Leave field", show=False)]

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

    def refresh_navbar(self) -> None:
        for bar in self.query(NavBar):
            bar.refresh_label()

    def on_screen_resume(self) -> None:
        self.refresh_navbar()
        # after the frame: the first paint does not wait for SQLite (sqlite_utils + numpy import)
        self.call_after_refresh(self.safe_reload)

    def safe_reload(self) -> None:
        from workbench.store import WorkspaceError

        try:
            self.reload()
        except WorkspaceError as e:  # not a workspace, or from a newer Workbench: say so and leave
            self.app.workspace_failed(e)

    # ------------------------------------------------------------ keyboard
    def action_leave_field(self) -> None:
        if typing_in(self):
            self.set_focus(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if typing_in(self) and action in letter_actions(self.BINDINGS):
            return False  # hidden from the footer: the key types into the field
        return True
