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


async def test_v_switches_every_row_between_test_and_best_validation_metrics_and_s_picks_the_sort(tmp_path,
                                                                                                monkeypatch):
    """One metric set for all rows (never test metrics for one run and validation for another), named in the
    header; timing and user-count columns hidden until h; s lists the columns to sort by."""
    from tui_helpers import record_training

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    a, b, c = demo_workspace(tmp_path / "w.db", runs=3)
    timings = {"forward_s": 1.5, "ranking_s": 0.5, "num_users": 80}
    record_training(tmp_path / "w.db", a, [0.1, 0.2, 0.15], test={"NDCG@10": 0.30, "HR@10": 0.5, **timings})
    record_training(tmp_path / "w.db", b, [0.3, 0.4], test={"NDCG@10": 0.20, "HR@10": 0.6, **timings})
    record_training(tmp_path / "w.db", c, [0.05, 0.25], status="cancelled")  # validation only, no test
    app = WorkbenchApp(tmp_path / "w.db", start_mode="compare")
    async with app.run_test(size=SIZE) as pilot:
        screen = await wait_for(pilot, lambda: app.screen if app.current_mode == "compare" and
                                app.screen.query_one("#compare-table", DataTable).row_count == 3 else None)
        table = screen.query_one("#compare-table", DataTable)

        def labels() -> list[str]:
            return [str(col.label).split(" ")[0] for col in table.columns.values()]

        def column(name: str) -> dict[int, str]:
            return {int(r[0].lstrip("* ")): r[labels().index(name)] for r in table_rows(table)}

        assert "metrics: test set" in text_of(screen.query_one("#compare-set"))
        assert {"NDCG@10", "HR@10"} <= set(labels())
        assert not {"forward_s", "ranking_s", "num_users", "val:NDCG@10", "val:train_s"} & set(labels())
        assert column("NDCG@10") == {a: "0.3000", b: "0.2000", c: ""}  # c has no test metrics: blank, not val
        assert "3 timing columns hidden (h)" in text_of(screen.query_one("#compare-message"))
        await pilot.press("h")
        await wait_for(pilot, lambda: {"forward_s", "ranking_s", "num_users"} <= set(labels()), what="timings")
        await pilot.press("h")
        await wait_for(pilot, lambda: "forward_s" not in labels(), what="timings hidden again")

        await pilot.press("s")
        pick = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "Pick" else None)
        options = pick.query_one("#choices")
        choices = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert sorted(choices) == sorted(labels()) and choices[:2] == ["NDCG@10", "HR@10"]  # metrics first
        options.highlighted = choices.index("NDCG@10")
        await pilot.press("enter")
        await wait_for(pilot, lambda: [int(r[0]) for r in table_rows(table)] == [a, b, c], what="sorted by NDCG@10")
        assert "NDCG@10 v" in [str(col.label) for col in table.columns.values()]

        await pilot.press("v")
        await wait_for(pilot, lambda: "validation at each run's best epoch" in
                       text_of(screen.query_one("#compare-set")), what="the validation set named")
        assert {"val:NDCG@10", "val:HR@10"} <= set(labels()) and "NDCG@10" not in labels()
        assert not {"val:train_s", "val:forward_s"} & set(labels())
        # each run's validation metrics at its own best epoch; the sort follows to val:NDCG@10
        assert column("val:NDCG@10") == {a: "0.2000", b: "0.4000", c: "0.2500"}
        assert column("val:HR@10") == {a: "0.3200", b: "0.6400", c: "0.4000"}  # tui_helpers.hit_rate_for
        assert [int(r[0]) for r in table_rows(table)] == [b, c, a]
        await pilot.press("o")  # the export writes the set on screen
        ask = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "Ask" else None)
        await pilot.press("enter")
        csv = app.ws.files_dir / "w-runs.csv"
        await wait_for(pilot, lambda: csv.exists(), what="export")
        header = csv.read_text().splitlines()[0].split(",")
        assert "val:NDCG@10" in header and "NDCG@10" not in header and ask is not None

        await pilot.press("v")
        await wait_for(pilot, lambda: "metrics: test set" in text_of(screen.query_one("#compare-set")))
        assert [int(r[0]) for r in table_rows(table)] == [a, b, c] and "val:NDCG@10" not in labels()
