"""The Runs monitor like TensorBoard's scalars, driven with keys on a real workspace (generated demo data; the
epochs are written by the worker's own RunRecorder): smoothing, epoch zoom and pan, pinned runs overlaid and
named in the legend, and the same "done" figure in the runs table and next to the progress bar."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Label
from tui_helpers import demo_workspace, record_training, table_rows, text_of, wait_for
from workbench.tui.app import WorkbenchApp

NOISY = [0.10, 0.30, 0.15, 0.35, 0.20, 0.40, 0.25, 0.45, 0.30, 0.50]  # ten epochs of a jumpy validation NDCG@10


@pytest.fixture
def home(tmp_path, monkeypatch):  # no user's workspaces or settings
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_WORKSPACE", raising=False)


async def runs_screen(app, pilot, rows: int):
    return await wait_for(pilot, lambda: app.screen if app.current_mode == "runs" and
                          app.screen.query_one("#runs-table", DataTable).row_count == rows else None,
                          what=f"{rows} runs listed")


async def test_s_smooths_the_curves_and_plus_minus_brackets_zero_zoom_and_pan_the_epochs(home, tmp_path):
    [run_id] = demo_workspace(tmp_path / "w.db", runs=1)
    record_training(tmp_path / "w.db", run_id, NOISY, test={"NDCG@10": 0.4})
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=(100, 30)) as pilot:
        runs = await runs_screen(app, pilot, 1)
        metric, loss = runs.query_one("#metric-plot"), runs.query_one("#loss-plot")
        await wait_for(pilot, lambda: metric.title == "validation NDCG@10" and metric.drawn, what="the curve")
        assert metric.drawn == [("NDCG@10", metric.drawn[0][1], 10)]  # one line, no smoothing

        view = runs.query_one("#curve-view", Label)
        await pilot.press("s")
        await wait_for(pilot, lambda: "smoothing 0.6" in text_of(view) and len(metric.drawn) == 2,
                       what="smoothing 0.6")
        assert len(loss.drawn) == 2 and loss.smoothing == 0.6
        xs, ys = metric.shown_points()["NDCG@10"]
        # TensorBoard's debiased EMA: s1 = y1, s2 = (0.6 * 0.4 * y1 + 0.4 * y2) / (1 - 0.6 ** 2)
        assert xs == list(range(1, 11)) and ys[0] == pytest.approx(0.10)
        assert ys[1] == pytest.approx((0.6 * 0.4 * 0.10 + 0.4 * 0.30) / (1 - 0.36))
        assert max(ys) - min(ys) < max(NOISY) - min(NOISY)  # smoother than the raw points
        raw, line = metric.drawn  # the raw points stay, dim and out of the legend, under the smoothed line
        assert raw[0] == "" and raw[2] == 10 and line[0] == "NDCG@10" and raw[1] != line[1]
        await pilot.press("s")
        await wait_for(pilot, lambda: "smoothing 0.9" in text_of(view), what="smoothing 0.9")
        await pilot.press("s")
        await wait_for(pilot, lambda: "no smoothing" in text_of(view) and len(metric.drawn) == 1,
                       what="smoothing off again")
        assert metric.shown_points()["NDCG@10"][1] == NOISY

        # zoom in on the middle epochs, pan right then left, zoom out, show all
        steps = [("plus", "epochs 3-7"), ("right_square_bracket", "epochs 5-9"),
                 ("right_square_bracket", "epochs 6-10"), ("left_square_bracket", "epochs 4-8"),
                 ("left_square_bracket", "epochs 2-6"), ("left_square_bracket", "epochs 1-5"),
                 ("minus", "epochs 1-9")]
        for key, shown in steps:
            await pilot.press(key)
            await wait_for(pilot, lambda shown=shown: f"{shown} of 1-10" in text_of(view),
                           what=f"{key} shows {shown}")
            lo, hi = (int(n) for n in shown.split()[1].split("-"))
            assert metric.shown_points()["NDCG@10"][0] == list(range(lo, hi + 1))
            assert loss.shown_points()["loss"][0] == list(range(lo, hi + 1))  # both charts share the axis
        await pilot.press("0")
        await wait_for(pilot, lambda: "all epochs" in text_of(view), what="0 shows every epoch")
        assert metric.shown_points()["NDCG@10"][0] == list(range(1, 11))
        await pilot.press("minus")  # nothing wider than everything
        assert metric.shown_points()["NDCG@10"][0] == list(range(1, 11)) and metric.title == "validation NDCG@10"
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "zoom in first" in text_of(runs.query_one("#run-message", Label)))


async def test_space_pins_runs_whose_curves_stay_overlaid_and_named_while_others_are_selected(home, tmp_path):
    ids = demo_workspace(tmp_path / "w.db", runs=3)
    record_training(tmp_path / "w.db", ids[0], [0.1, 0.2], status="running")  # still training
    record_training(tmp_path / "w.db", ids[1], [0.2, 0.3, 0.35], test={"NDCG@10": 0.3})
    record_training(tmp_path / "w.db", ids[2], [0.3, 0.4, 0.5, 0.45], test={"NDCG@10": 0.4})
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=(100, 30)) as pilot:
        runs = await runs_screen(app, pilot, 3)
        table, metric = runs.query_one("#runs-table", DataTable), runs.query_one("#metric-plot")
        table.focus()
        await wait_for(pilot, lambda: app.selected_run == ids[2] and "NDCG@10" in metric.shown_points())

        def legend() -> set[str]:
            return set(metric.shown_points())

        await pilot.press("space")  # pin run 3
        await wait_for(pilot, lambda: table_rows(table)[0][0] == f"*{ids[2]}", what="run 3 starred as pinned")
        await pilot.press("down")  # select run 2: run 3 stays on the chart
        await wait_for(pilot, lambda: legend() == {f"{ids[1]} run-2", f"{ids[2]} run-3"}, what="two runs named")
        assert f"pinned {ids[2]}" in text_of(runs.query_one("#curve-view", Label))
        assert metric.shown_points()[f"{ids[2]} run-3"][1] == [0.3, 0.4, 0.5, 0.45]
        assert set(runs.query_one("#loss-plot").shown_points()) == legend()  # the loss chart overlays them too
        await pilot.press("down", "space")  # pin run 1 (still training)
        await pilot.press("up")
        await wait_for(pilot, lambda: legend() == {f"{ids[1]} run-2", f"{ids[2]} run-3", f"{ids[0]} run-1"},
                       what="three runs overlaid")
        # the pinned run that is still training gets its next epoch on the chart
        from workbench.engine.recorder import RunRecorder
        from workbench.events import Event
        from workbench.store import open_workspace

        with open_workspace(tmp_path / "w.db") as ws:
            RunRecorder(ws, ids[0], throttle_s=0.0)(Event("epoch_finished", {
                "epoch": 3, "train_loss": 1.0, "wall_time": 1.0, "metrics": {"NDCG@10": 0.25}}))
        await wait_for(pilot, lambda: metric.shown_points()[f"{ids[0]} run-1"][1] == [0.1, 0.2, 0.25],
                       what="the pinned run's new epoch")
        await pilot.press("up", "space")  # unpin run 3 (selected): run 1 stays pinned
        await wait_for(pilot, lambda: table_rows(table)[0][0] == str(ids[2]), what="run 3 unpinned")
        await pilot.press("down")
        await wait_for(pilot, lambda: legend() == {f"{ids[1]} run-2", f"{ids[0]} run-1"}, what="run 3 gone")
        await pilot.press("down", "space")  # unpin run 1: a single run again, legend by metric name
        await wait_for(pilot, lambda: legend() == {"NDCG@10"}, what="no pins left")


async def test_the_done_column_and_the_progress_label_show_the_same_figure(home, tmp_path):
    ids = demo_workspace(tmp_path / "w.db", runs=2)
    record_training(tmp_path / "w.db", ids[1], [], status="running",  # epoch 1 of 1, step 2 of 3: 66.7 %
                    progress={"epoch": 1, "step": 2, "steps": 3, "loss": 2.0, "eta_s": 5.0})
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=(100, 30)) as pilot:
        runs = await runs_screen(app, pilot, 2)
        table = runs.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: "epoch 1/1 step 2/3" in text_of(runs.query_one("#run-eta", Label)))
        done = table_rows(table)[0][3]
        assert done == "67%"
        assert text_of(runs.query_one("#run-eta", Label)).split()[0] == done
        assert runs.query_one("#run-progress").percentage == pytest.approx(2 / 3)


def test_smoothing_passes_gaps_through_and_a_one_epoch_axis_does_not_zoom():
    import math

    from workbench.tui.widgets.curve_view import XWindow, next_smoothing, smooth

    out = smooth([1.0, float("nan"), 3.0], 0.5)
    # the gap is kept and does not count: the second finite point is debiased as the second point
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == pytest.approx((0.25 * 1 + 0.5 * 3) / 0.75)
    assert [next_smoothing(w) for w in (0.0, 0.6, 0.9)] == [0.6, 0.9, 0.0]
    assert XWindow().zoomed_in((1, 1)).whole  # one epoch: nothing to zoom into
    assert XWindow().zoomed_in((1, 3)).whole  # three epochs are the narrowest window already
    assert XWindow().zoomed_in((1, 4)) == XWindow(2, 4)  # whole epochs at both ends
    assert XWindow(2, 4).panned(1, (1, 4)) == XWindow(2, 4) and XWindow(2, 4).zoomed_out((1, 4)).whole
