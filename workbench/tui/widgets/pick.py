"""A modal list to pick one of several names (arrow keys and enter, or a click); dismisses with it or None."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


class Pick(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    Pick { align: center middle; }
    Pick > Vertical { width: 70; max-width: 96%; height: auto; max-height: 90%; border: thick $accent;
                      background: $surface; padding: 1 2; }
    Pick OptionList { height: auto; max-height: 16; }
    """

    def __init__(self, question: str, choices: list[tuple[str, str]], current: str | None = None):
        """``choices``: (value, label) pairs; ``current`` is highlighted first."""
        super().__init__()
        self.question, self.choices, self.current = question, choices, current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield OptionList(*[Option(escape(label), id=value) for value, label in self.choices], id="choices")
            yield Label("[dim]up/down to choose, enter to accept, escape to cancel[/dim]")

    def on_mount(self) -> None:
        options = self.query_one("#choices", OptionList)
        values = [v for v, _ in self.choices]
        options.highlighted = values.index(self.current) if self.current in values else 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
