"""Compare like MLflow: hyperparameter columns, failed runs hidden until f, / filters, - reverses the sort,
exports default to the workspace's files folder. Real runs in a generated-data workspace."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from tui_helpers import demo_workspace, table_rows, text_of, wait_for
from workbench.store import open_workspace
from workbench.store import runs as run_rows
from workbench.tui.app import WorkbenchApp

SIZE = (100, 30)


async def test_compare_hides_failed_filters_reverses_and_shows_hyperparameters(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    ids = demo_workspace(tmp_path / "w.db", runs=3, status="cancelled")
    with open_workspace(tmp_path / "w.db") as ws:
        failed = demo_workspace(tmp_path / "w.db", runs=1)[0]
        run_rows.set_status(ws, failed, "failed", error="boom")
    app = WorkbenchApp(tmp_path / "w.db", start_mode="compare")
    async with app.run_test(size=SIZE) as pilot:
        screen = await wait_for(pilot, lambda: app.screen if app.current_mode == "compare" and
                                app.screen.query_one("#compare-table", DataTable).row_count else None)
        table = screen.query_one("#compare-table", DataTable)
        labels = [str(c.label).split(" ")[0] for c in table.columns.values()]
        for column in ("views", "fusion", "head", "dim", "max_len", "lr", "epochs", "seed"):
            assert column in labels
        rows = table_rows(table)
        assert [int(r[0]) for r in rows] == sorted(ids, reverse=True)  # the failed run is hidden
        assert rows[0][labels.index("views")] == "sasrec" and rows[0][labels.index("dim")] == "16"
        assert "1 failed hidden" in text_of(screen.query_one("#compare-message"))
        await pilot.press("f")
        await wait_for(pilot, lambda: table.row_count == 4, what="failed runs shown")
        await pilot.press("minus")
        await wait_for(pilot, lambda: [int(r[0]) for r in table_rows(table)] == sorted(ids + [failed]),
                       what="reversed sort")
        await pilot.press("slash")
        ask = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "Ask" else None)
        ask.query_one(Input).value = "run-2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.row_count == 1 and table_rows(table)[0][1] == "run-2", what="filtered")
        await pilot.press("o")
        ask = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "Ask" else None)
        default = ask.query_one(Input).value
        assert default.startswith(str(app.ws.files_dir)) and default.endswith(".csv")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (app.ws.files_dir / "w-runs.csv").exists(), what="export in the files folder")
