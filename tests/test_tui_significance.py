"""The Compare screen's paired test of marked runs, driven with keys on real runs of the demo data."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tui_helpers import isolated_home, text_of, wait_for
from workbench.tui.app import WorkbenchApp

SIZE = (100, 30)


def _baseline(head: str) -> dict:
    return {"name": head, "dataset": "demo", "model": {"max_len": 20}, "head": {"type": head},
            "evaluators": [{"type": "ranking", "ks": [10]}], "trainer": {"device": "cpu"}}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A demo workspace with a popularity run and an item-KNN run (no training: seconds)."""
    from workbench.data.demo import import_demo
    from workbench.engine.runner import run_experiment
    from workbench.store import open_workspace
    path = tmp_path_factory.mktemp("sig") / "ws.db"
    with open_workspace(path, create=True) as ws:
        import_demo(ws)
    first, _ = run_experiment(path, _baseline("popularity"))
    second, _ = run_experiment(path, _baseline("item_knn"))
    return path, first, second


def _row_index(table, run_id: int) -> int:
    return next(i for i in range(table.row_count) if str(table.get_row_at(i)[0]).lstrip("* ") == str(run_id))


async def test_marking_two_runs_and_pressing_t_shows_the_paired_test(two_runs, tmp_path, monkeypatch):
    from workbench.stats.compare import compare
    from workbench.store import open_workspace
    isolated_home(tmp_path, monkeypatch)  # no shared workspaces home or working folder (pytest-xdist)
    path, first, second = two_runs
    app = WorkbenchApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        screen = await wait_for(pilot, lambda: app.screen if app.current_mode == "compare" else None)
        table = screen.query_one("#compare-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="two runs in the table")
        panel = screen.query_one("#significance")
        table.focus()
        table.move_cursor(row=_row_index(table, first))
        await pilot.press("space")
        await pilot.press("t")
        await wait_for(pilot, lambda: "mark two or more runs" in text_of(panel), what="the hint for one run")
        table.move_cursor(row=_row_index(table, second))
        await pilot.press("space")
        await pilot.press("t")
        shown = await wait_for(pilot, lambda: "p(t)" in text_of(panel) and text_of(panel), timeout=60,
                               what="the paired test")
    with open_workspace(path) as ws:
        expected = compare(ws, [str(first), str(second)], metrics=["NDCG@10"])["rows"][0]
    assert f"baseline run {first}" in shown and f"run {second}: {expected['diff']:+.4f}" in shown
    assert ("* better" in shown or "* worse" in shown) == expected["significant"]
