"""Help: what each screen is for, the key bindings, and a short tour."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# Workbench

Behaviour sequence -> **views** -> **fusion** -> **head**; **evaluators** turn rankings into metrics.

| key | screen | what for |
|---|---|---|
| `w` | Workspaces | create (`n`), open (`o`), duplicate (`u`), export (`x`), delete (`del`) |
| `d` | Datasets | import wizard (`n`), statistics and plots, delete (`del`) |
| `e` | Experiment | compose views, fusion, head, evaluators, trainer; save (`s`), load (`o`), TOML (`t`), launch (`l`) |
| `r` | Runs | live progress, loss and metric curves, epochs, log; cancel (`x`), resume (`u`) |
| `c` | Compare | sort by any metric (click a header or `s`), mark runs (`space`) to overlay curves, export CSV (`o`) / Markdown (`k`) |
| `i` | Inspect | a user's history, top-K recommendations with scores and per-view weights (`ctrl+n` next user) |
| `p` | Plugins | installed plugins, load errors, install/uninstall with pip |
| `?` `F1` | Help | this screen |
| `ctrl+p` | | command palette: every main action by name |
| `q` | | quit (running jobs keep going in their worker process) |

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


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 96%; height: 96%; border: thick $accent; background: $surface; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(HELP)

    def action_dismiss(self) -> None:
        self.dismiss()
