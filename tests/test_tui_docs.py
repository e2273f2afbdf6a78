"""One source for the app's screens and keys: the help screen, README.md and docs/tui.md cannot drift from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.tui import screen_list

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("doc", ["README.md", "docs/tui.md"])
def test_the_key_table_in_the_docs_is_the_one_the_app_uses(doc):
    text = (ROOT / doc).read_text()
    assert screen_list.table_in(text) == screen_list.key_table_markdown(), (
        f"{doc}: the key table differs from the app's; run `python -m workbench.tui.screen_list --update {doc}`")


def test_help_modes_palette_and_top_bar_come_from_the_one_screen_list():
    from workbench.tui.app import WorkbenchApp
    from workbench.tui.screens.help import help_text

    assert screen_list.key_table_markdown() in help_text()
    assert list(WorkbenchApp.MODES) == [s.mode for s in screen_list.SCREENS]
    bound = {b.key: b.action for b in WorkbenchApp.BINDINGS}
    for s in screen_list.SCREENS:
        assert bound[s.key] == f"switch_mode('{s.mode}')"
        assert s.screen_class().MODE == s.mode
    keys = [s.key for s in screen_list.SCREENS]
    assert len(set(keys)) == len(keys)


def test_update_rewrites_only_the_marked_table(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"intro\n{screen_list.BEGIN}\nold table\n{screen_list.END}\noutro\n")
    screen_list.main(["--update", str(doc)])
    text = doc.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n")
    assert screen_list.table_in(text) == screen_list.key_table_markdown()
