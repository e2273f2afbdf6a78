"""Research in the app, driven with keys on real workspaces: several seeds launched from the composer as one
group (the Runs and Compare screens show its mean, sd and 95% CI), and the Studies screen on a real study."""

from __future__ import annotations

import csv

import pytest
from textual.widgets import DataTable, Input, Label

from tui_helpers import demo_workspace, isolated_home, table_rows, text_of, tiny_config, wait_for
from workbench.store import open_workspace
from workbench.tui.app import WorkbenchApp

SIZE = (120, 36)


@pytest.fixture
def home(tmp_path, monkeypatch):
    return isolated_home(tmp_path, monkeypatch)


async def _composer_with(app, pilot, config: dict, seeds: str):
    """The composer showing ``config``, its seeds field set to ``seeds`` with keys; the focus left nowhere."""
    composer = await wait_for(pilot, lambda: app.screen if app.current_mode == "compose" and
                              app.screen.query("#exp-seeds") else None, what="the composer")
    composer.config = config
    await composer.recompose_keeping_focus()
    field = composer.query_one("#exp-seeds", Input)
    field.focus()
    await pilot.press("end", "backspace", *seeds, "escape")
    assert field.value == seeds
    return composer


async def test_a_bad_seeds_value_launches_nothing(home, tmp_path):
    demo_workspace(tmp_path / "w.db")
    app = WorkbenchApp(tmp_path / "w.db", start_mode="compose")
    async with app.run_test(size=SIZE) as pilot:
        composer = await _composer_with(app, pilot, tiny_config("bad-seeds"), "0")
        await pilot.press("l")
        await wait_for(pilot, lambda: "seeds: '0' is not a whole number >= 1" in
                       text_of(composer.query_one("#compose-message", Label)), what="the error")
        assert app.current_mode == "compose"
    with open_workspace(tmp_path / "w.db") as ws:
        assert ws.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
        assert ws.db.execute("SELECT COUNT(*) FROM run_groups").fetchone()[0] == 0


def test_run_seeds_background_queues_the_group_the_composer_launches(home, tmp_path, run_workbench):
    """`workbench run EXP --seeds 2 --background` and the composer share engine.seeds.queue_seed_group."""
    import json

    from engine_helpers import tiny_gru_toml
    from workbench.jobs.queue import list_jobs, request_cancel
    from workbench.store.run_groups import group_runs

    demo_workspace(tmp_path / "w.db")
    (tmp_path / "exp.toml").write_text(tiny_gru_toml(dim=8, epochs=1))
    out = json.loads(run_workbench("-w", tmp_path / "w.db", "run", tmp_path / "exp.toml", "--seeds", "2",
                                   "--background", "--json", check=True).stdout)
    with open_workspace(tmp_path / "w.db") as ws:
        assert [r["id"] for r in group_runs(ws, out["group_id"])] == out["run_ids"]
        jobs = list_jobs(ws, include_finished=True)
        assert sorted(j["id"] for j in jobs) == sorted(out["job_ids"])
        assert sorted(j["run_id"] for j in jobs) == out["run_ids"]
        for job in list_jobs(ws, include_finished=False):  # no worker outlives the test
            request_cancel(ws, job["id"])


async def test_three_seeds_from_the_composer_are_one_group_summarised_on_runs_and_compared_as_groups(home, tmp_path):
    from workbench.engine.seeds import group_view
    from workbench.store.run_groups import list_groups

    demo_workspace(tmp_path / "w.db")
    app = WorkbenchApp(tmp_path / "w.db", start_mode="compose")
    config = tiny_config("seeded")
    config["trainer"]["seed"] = 11
    async with app.run_test(size=SIZE) as pilot:
        await _composer_with(app, pilot, config, "3")
        await pilot.press("l")
        first = await wait_for(pilot, lambda: app.current_mode == "runs" and app.selected_run, what="launched")
        with open_workspace(tmp_path / "w.db") as ws:
            [group] = list_groups(ws)
            runs = ws.db.execute("SELECT id, seed, name FROM runs WHERE group_id = ? ORDER BY id",
                                 [group["id"]]).fetchall()
            jobs = ws.db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        # what `workbench run EXP --seeds 3 --background` stores: one seeds group, seeds 11, 12, 13, a job each
        assert group["kind"] == "seeds" and group["spec"]["seeds"] == [11, 12, 13]
        assert [r[1] for r in runs] == [11, 12, 13] and first == runs[0][0] and jobs == 3
        assert [r[2] for r in runs] == ["seeded (seed 11)", "seeded (seed 12)", "seeded (seed 13)"]
        line = await wait_for(pilot, lambda: app.screen.query_one("#run-group", Label), what="the Runs screen")
        await wait_for(pilot, lambda: "3/3 runs completed" in text_of(line), timeout=600,
                       what="the three seeds to finish")
        with open_workspace(tmp_path / "w.db") as ws:
            view = group_view(ws, group["id"])
        s = view["summary"]["NDCG@10"]
        assert s["n"] == 3
        shown = text_of(line)
        assert f"group g{group['id']} (seeds)" in shown
        assert f"NDCG@10 {s['mean']:.4f} sd {s['std']:.4f} 95% CI [{s['ci_low']:.4f}, {s['ci_high']:.4f}]" in shown

        # a second group (another learning rate), then both compared as groups on the Compare screen
        await pilot.press("e")
        other = tiny_config("seeded-lr")
        other["trainer"].update(seed=11, lr=3e-2)
        await _composer_with(app, pilot, other, "2")
        await pilot.press("l")
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.selected_run not in (None, first),
                       what="the second group launched")
        with open_workspace(tmp_path / "w.db") as ws:
            second = max(g["id"] for g in list_groups(ws))
        line = await wait_for(pilot, lambda: app.screen.query_one("#run-group", Label), what="the Runs screen")
        await wait_for(pilot, lambda: "2/2 runs completed" in text_of(line), timeout=600, what="the second group")
        await pilot.press("c")
        compare = await wait_for(pilot, lambda: app.screen if app.current_mode == "compare" else None)
        table = compare.query_one("#compare-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 5, what="the five runs")
        await pilot.press("g")
        await wait_for(pilot, lambda: [r[0] for r in table_rows(table)] == [f"g{second}", f"g{group['id']}"],
                       what="the two groups, newest first")
        ndcg = [k for k in table.columns if str(k.value) == "NDCG@10"][0]
        cell = str(table.get_cell(str(group["id"]), ndcg))
        assert cell == f"{s['mean']:.4f} +-{s['ci_high'] - s['mean']:.4f}"
        table.focus()
        await pilot.press("space", "down", "space")
        summary = compare.query_one("#group-summary", Label)
        assert f"g{group['id']} seeded x3 seeds: NDCG@10 {s['mean']:.4f} sd {s['std']:.4f}" in text_of(summary)
        # the groups' export has each metric's mean, sd, 95% CI and number of runs
        await pilot.press("o")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "Ask", what="the export dialog")
        await pilot.press("enter")
        exported = app.ws.files_dir / "w-groups.csv"
        await wait_for(pilot, exported.exists, what="the groups' export")
        row = next(r for r in csv.DictReader(exported.open()) if r["run"] == f"g{group['id']}")
        assert [row["NDCG@10"], row["NDCG@10 sd"], row["NDCG@10 ci_low"], row["NDCG@10 ci_high"], row["NDCG@10 n"]] \
            == [f"{s['mean']:.4f}", f"{s['std']:.4f}", f"{s['ci_low']:.4f}", f"{s['ci_high']:.4f}", "3"]
        await pilot.press("t")
        panel = compare.query_one("#significance")
        tested = await wait_for(pilot, lambda: "p(t)" in text_of(panel) and text_of(panel), timeout=120,
                                what="the paired test of the groups")
    from workbench.stats.compare import compare as paired
    with open_workspace(tmp_path / "w.db") as ws:
        expected = paired(ws, [f"g{group['id']}", f"g{second}"], metrics=["NDCG@10"])["rows"][0]
    assert f"baseline group g{group['id']}" in tested
    assert f"group g{second}: {expected['diff']:+.4f}" in tested


# ---------------------------------------------------------------- the Studies screen on real studies


@pytest.fixture(scope="module")
def studied(tmp_path_factory):
    """A demo workspace with a finished 3-trial study of a tiny GRU, run by the real CLI."""
    import json
    import os
    import subprocess
    import sys

    from engine_helpers import tiny_gru_toml

    folder = tmp_path_factory.mktemp("studied")
    demo_workspace(folder / "w.db")
    (folder / "exp.toml").write_text(tiny_gru_toml(dim=8, epochs=2))
    env = {**os.environ, "WORKBENCH_HOME": str(folder / "home")}
    env.pop("WORKBENCH_WORKSPACE", None)
    out = subprocess.run([sys.executable, "-c", "from workbench.cli import main; main()", "-w", str(folder / "w.db"),
                          "tune", str(folder / "exp.toml"), "--trials", "3", "--set",
                          "trainer.lr=loguniform(1e-4,1e-2)", "--set", "model.dim=choice(8,16)", "--json"],
                         env=env, cwd=folder, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    return folder / "w.db", json.loads(out.stdout)


async def _studies_screen(app, pilot):
    await wait_for(pilot, lambda: app.current_mode == "runs", what="the app")
    await pilot.press("a")
    return await wait_for(pilot, lambda: app.screen if app.current_mode == "studies" else None, what="Studies")


async def test_the_studies_screen_shows_the_trials_the_best_so_far_curve_and_the_importances(studied, home):
    from workbench.tune.study import study_report

    path, report = studied
    group = report["group_id"]
    with open_workspace(path) as ws:
        expected = study_report(ws, group, importances=False)
    assert [t["run_id"] for t in expected["trials"]] == [t["run_id"] for t in report["trials"]]
    app = WorkbenchApp(path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _studies_screen(app, pilot)
        studies = screen.query_one("#studies-table", DataTable)
        await wait_for(pilot, lambda: table_rows(studies) == [[f"g{group}", "completed", "3/3", "tune tiny"]],
                       what="the study listed as `studies ls` lists it")
        trials = screen.query_one("#trials-table", DataTable)
        await wait_for(pilot, lambda: trials.row_count == 3, timeout=120, what="the trials table")
        rows = table_rows(trials)
        assert [str(c.label) for c in trials.columns.values()] == ["trial", "state", "NDCG@10", "best so far", "run",
                                                                   "trainer.lr", "model.dim"]
        for row, t, best in zip(rows, expected["trials"], expected["best_so_far"]):
            value = "-" if t["value"] is None else f"{t['value']:.4g}"
            assert row[:5] == [str(t["number"]), t["state"], value, f"{best:.4g}", str(t["run_id"])]
            assert row[5:] == [f"{t['params']['trainer.lr']:.4g}", str(t["params"]["model.dim"])]
        # the best-so-far curve: after each trial, the best completed value up to it
        xs, ys = screen.query_one("#best-plot")._series["best so far"]
        assert xs == [t["number"] for t in expected["trials"]] and ys == expected["best_so_far"]
        assert ys == [max(t["value"] for t in expected["trials"][:i + 1] if t["state"] == "complete")
                      for i in range(3)]
        # importances: Optuna's, from the (>= 2) completed trials; the median pruner never prunes the first two
        assert "computing Optuna's parameter importances over" in str(screen.query_one("#importances").render()) \
            or screen.report["importances"]  # the trials first, then the importances (seconds the first time)
        shown = await wait_for(pilot, lambda: "importances (" in str(screen.query_one("#importances").render()) and
                               str(screen.query_one("#importances").render()), timeout=120, what="the importances")
        imp = screen.report["importances"]
        assert set(imp) == {"trainer.lr", "model.dim"}
        assert "completed trials" in shown and all(f"{k} " in shown and f"{v:.2f}" in shown for k, v in imp.items())
        assert "Optuna's fANOVA over 2 completed trials" in shown or "over 3 completed trials" in shown
        assert screen.query_one("#cancel").disabled  # a finished study has nothing to cancel
        await pilot.press("x")
        assert "completed: nothing to cancel" in text_of(screen.query_one("#study-message", Label))
        # o opens the highlighted trial's run on the Runs screen
        trials.focus()
        await pilot.press("down", "o")
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.selected_run == expected["trials"][1]["run_id"],
                       what="the second trial's run shown")


async def test_cancelling_a_running_study_from_the_studies_screen(home, tmp_path, run_workbench):
    import json
    import sqlite3

    from engine_helpers import tiny_gru_toml

    demo_workspace(tmp_path / "w.db")
    (tmp_path / "exp.toml").write_text(tiny_gru_toml(dim=8))
    started = json.loads(run_workbench("-w", tmp_path / "w.db", "tune", tmp_path / "exp.toml", "--trials", "20",
                                       "--epochs", "300", "--pruner", "none", "--set",
                                       "trainer.lr=loguniform(1e-4,1e-2)", "--background", "--json",
                                       check=True).stdout)
    group = started["group_id"]   # 300 epochs: the first trial is still training when the test cancels it
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _studies_screen(app, pilot)
        studies = screen.query_one("#studies-table", DataTable)
        await wait_for(pilot, lambda: table_rows(studies)[0][:3] == [f"g{group}", "running", "1/20"], timeout=300,
                       what="the study running its first trial")
        await wait_for(pilot, lambda: not screen.query_one("#cancel").disabled, timeout=120, what="cancel enabled")
        await pilot.press("x")
        confirm = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "Confirm" else None,
                                 what="the cancel question")
        assert f"Cancel study g{group}?" in text_of(confirm.query_one("#question"))
        await pilot.press("y")
        await wait_for(pilot, lambda: "cancel requested" in text_of(screen.query_one("#study-message", Label)),
                       what="cancel requested")
        await wait_for(pilot, lambda: table_rows(studies)[0][:2] == [f"g{group}", "cancelled"], timeout=300,
                       what="the study cancelled")
        await wait_for(pilot, lambda: "need 2 completed trials; 0 so far" in
                       str(screen.query_one("#importances").render()), timeout=60, what="why no importances")
    db = sqlite3.connect(tmp_path / "w.db")
    assert db.execute("SELECT status FROM runs WHERE group_id = ?", [group]).fetchall() == [("cancelled",)]
    assert db.execute("SELECT status FROM run_groups WHERE id = ?", [group]).fetchone()[0] == "cancelled"
