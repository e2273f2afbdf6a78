"""The frame every mode screen shares: navigation bar on top, key footer below, reload on show.

Keyboard rules shared by all screens: ``escape`` leaves a text field (so the
single-letter keys work again), and while a text field has the focus the
footer hides the single-letter keys, which would type into the field.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, TextArea

from workbench.tui.widgets.keybar import KeyBar
from workbench.tui.widgets.navbar import NavBar

TEXT_FIELDS = (Input, TextArea)
FOOTER_FIRST = ("switch_mode", "help")  # actions whose keys the footer shows before the screen's own


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


def app_looks(app) -> tuple:
    """What every screen's styles depend on from the app as a whole."""
    return app.theme, frozenset(app.classes), frozenset(app.get_pseudo_classes())


def skip_needless_restyle(screen: Screen, event: events.ScreenResume) -> None:
    """Called as ``screen`` resumes: Textual re-applies the stylesheet to every widget of a resumed screen.
    Widgets restyle themselves as their classes change, and a new stylesheet or theme is applied by the mode
    switch, so only what the whole app looks like (theme, app classes, focus / dark / inline pseudo-classes)
    can have changed a hidden screen's styles: restyle only then (the composer has ~360 widgets, the help
    page's table ~200: ~0.3 s each on a loaded core)."""
    looks = app_looks(screen.app)
    if looks == getattr(screen, "_looks_when_styled", None):
        event.refresh_styles = False
    screen._looks_when_styled = looks


class WorkbenchScreen(Screen):
    MODE = ""
    BINDINGS = [Binding("escape", "leave_field", "Leave field", show=False)]

    def compose(self) -> ComposeResult:
        yield NavBar(self.MODE)
        yield from self.compose_body()
        yield KeyBar(compact=True)

    def compose_body(self) -> ComposeResult:  # pragma: no cover - overridden
        yield from ()

    @property
    def ws(self):
        return self.app.ws

    @property
    def active_bindings(self):
        """The keys in the footer's order: the screen keys and help first (they fit at 80 columns), then
        this screen's own keys (the last ones may be cut at 80 columns; help lists them all), then quit."""
        bindings = super().active_bindings
        first = {k: b for k, b in bindings.items() if b.binding.action.split("(")[0] in FOOTER_FIRST}
        return {**first, **{k: b for k, b in bindings.items() if k not in first}}

    def reload(self) -> None:
        """Re-read what the screen shows from the workspace."""

    def refresh_navbar(self) -> None:
        for bar in self.query(NavBar):
            bar.refresh_label()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        skip_needless_restyle(self, event)
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
