"""Help: what each screen is for, the key bindings, and a short tour."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP_TEMPLATE = """\
# Workbench

Behaviour sequence -> **views** -> **fusion** -> **head**; **evaluators** turn rankings into metrics.

{keys}
## Tour
1. **Experiment** (`e`): pick a dataset, tick one or more views, a fusion, a head and evaluators;
   each plugin's options appear as a form. `l` validates and launches it as a background job.
2. **Runs** (`r`): watch the progress bar, ETA, the loss and validation curves fill in live.
   Close the app whenever you like; reopen it and the monitor re-attaches.
3. **Compare** (`c`): the runs side by side; sort by NDCG or recall, mark two runs and see their curves overlaid.
4. **Inspect** (`i`): choose a run and a user and see why each item was recommended:
   its score and how much each view contributed.

Mouse works everywhere: click tabs in the top bar, rows, buttons and column headers.
"""


def help_text() -> str:
    """The help page: the key table from ``screen_list`` (the single source) and the tour."""
    from workbench.tui.screen_list import key_table_markdown

    return HELP_TEMPLATE.replace("{keys}", key_table_markdown())


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 96%; height: 96%; border: thick $accent; background: $surface; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(help_text())

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        from workbench.tui.screens.base import skip_needless_restyle

        skip_needless_restyle(self, event)  # the app keeps this page (App.action_help): shown again as it was

    def action_dismiss(self) -> None:
        self.dismiss()
