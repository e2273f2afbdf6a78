"""The one list of the app's screens: mode, key, title, class and purpose.

The app's modes and navigation keys, the top bar, the command palette, the
help screen and the key tables in README.md and docs/tui.md all come from
:data:`SCREENS` (and each screen class's own ``BINDINGS``), so they cannot
disagree. ``python -m workbench.tui.screen_list`` prints the key table;
``--update FILE...`` rewrites the table between the ``<!-- keys:begin -->``
and ``<!-- keys:end -->`` markers of each file (a test checks they match).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ScreenInfo:
    mode: str          # the Textual mode name
    key: str           # the key that switches to it
    title: str         # tab and palette title
    target: str        # "module:Class", imported only when the screen is first shown
    purpose: str       # what the screen is for (its keys are added from the class's BINDINGS)
    in_footer: bool = False

    def screen_class(self) -> type:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


SCREENS: tuple[ScreenInfo, ...] = (
    ScreenInfo("workspaces", "w", "Workspaces", "workbench.tui.screens.workspaces:WorkspacesScreen",
               "the workspace files (one SQLite file each); enter opens one, delete asks first"),
    ScreenInfo("datasets", "d", "Datasets", "workbench.tui.screens.datasets:DatasetsScreen",
               "datasets with statistics and plots; item features from audio / image files (precomputed view); "
               "delete asks first and says what happens to their runs", in_footer=True),
    ScreenInfo("compose", "e", "Experiment", "workbench.tui.screens.composer:ComposerScreen",
               "compose views, fusion, head, evaluators, trainer from the installed plugins, the split's training / "
               "held-out users and a warm start from a stored run (init_from); load picks from a list", in_footer=True),
    ScreenInfo("runs", "r", "Runs", "workbench.tui.screens.runs:RunsScreen",
               "live monitor: progress and ETA, loss and validation curves (smoothing, epoch zoom, pinned runs "
               "overlaid and named in the legend), epochs table, log; a failed run shows its error",
               in_footer=True),
    ScreenInfo("compare", "c", "Compare", "workbench.tui.screens.compare:CompareScreen",
               "runs side by side with one metric set (test, or validation at the best epoch), sortable by any "
               "column (pick it, or click a header); timing columns and failed runs hidden until asked; "
               "marked runs' curves overlaid; "
               "the paired test compares marked runs user by user (docs/research.md)", in_footer=True),
    ScreenInfo("studies", "a", "Studies", "workbench.tui.screens.studies:StudiesScreen",
               "hyperparameter studies (`workbench tune`): trials with their parameters, values and runs, the "
               "best-so-far curve, Optuna's parameter importances (docs/research.md)"),
    ScreenInfo("inspect", "i", "Inspect", "workbench.tui.screens.inspect:InspectScreen",
               "a user's history and a run's top-10 recommendations, each view's measured contribution and why "
               "each item (the history events that drove it); a new user from typed item ids"),
    ScreenInfo("plugins", "p", "Plugins", "workbench.tui.screens.plugins:PluginsScreen",
               "installed plugins by kind, package, version; load errors; install/uninstall with pip"),
)

# keys that work on every screen: (keys as pressed, shown as, what for)
GLOBAL_KEYS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("question_mark", "f1"), "`?` `F1`", "help: this table and a short tour"),
    (("ctrl+p",), "`ctrl+p`", "command palette: every action by name"),
    (("tab", "shift+tab"), "`tab`", "move the focus (the focused widget is highlighted)"),
    (("escape",), "`esc`", "leave a text field (single-letter keys work again) or close a dialog"),
    (("q",), "`q`", "quit; running jobs keep training in their worker process (quitting says which)"),
)

_KEY_NAMES = {"delete": "del", "space": "space", "question_mark": "?", "escape": "esc", "enter": "enter",
              "slash": "/", "minus": "-", "plus": "+", "left_square_bracket": "[", "right_square_bracket": "]"}


def by_mode(mode: str) -> ScreenInfo:
    return next(s for s in SCREENS if s.mode == mode)


def key_label(key: str) -> str:
    """How a Textual key name is written for people: ``delete`` -> ``del``, ``question_mark`` -> ``?``."""
    return _KEY_NAMES.get(key, key)


def screen_bindings(info: ScreenInfo) -> list[tuple[str, str]]:
    """(key, description) of each of the screen's own bindings, in order (first key of each binding)."""
    out = []
    for b in info.screen_class().BINDINGS:
        key = b.key.split(",")[0]
        out.append((key, b.description or b.action))
    return out


def key_table_markdown() -> str:
    """The key table (markdown) shown by the help screen and kept in README.md and docs/tui.md."""
    lines = ["| key | screen | what for (keys on that screen) |", "|---|---|---|"]
    for info in SCREENS:
        keys = ", ".join(f"`{key_label(k)}` {desc}" for k, desc in screen_bindings(info))
        lines.append(f"| `{info.key}` | {info.title} | {info.purpose}" + (f"; {keys}" if keys else "") + " |")
    for _, shown, what in GLOBAL_KEYS:
        lines.append(f"| {shown} | | {what} |")
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- keys:begin -->", "<!-- keys:end -->"


def table_in(text: str) -> str | None:
    """The key table between the markers in ``text`` (None without markers)."""
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def with_table(text: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{key_table_markdown()}{END}{tail}"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--update"]:
        for name in argv[1:]:
            path = Path(name)
            path.write_text(with_table(path.read_text()))
            print(f"updated the key table in {path}")
        return 0
    sys.stdout.write(key_table_markdown())
    return 0


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    raise SystemExit(main(sys.argv[1:]))
