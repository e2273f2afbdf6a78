"""The demo path: the ready-made experiments are valid for the engine, open in the composer and train."""

from __future__ import annotations

from textual.widgets import Input

from tui_helpers import wait_for
from workbench.store import experiments
from workbench.store import runs as run_rows
from workbench.tui.app import WorkbenchApp
from workbench.data.demo_experiments import BASELINE, MULTI_VIEW, save_demo_experiments


async def test_demo_experiments_open_in_the_composer_and_train(tmp_path, monkeypatch):
    from workbench.data.demo import DemoSpec, ensure_demo_workspace
    from workbench.engine.config import parse_config

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    ws = ensure_demo_workspace(str(tmp_path / "demo.db"), DemoSpec(users=80, items=60, sessions_per_user=3))
    try:
        first = save_demo_experiments(ws)
        assert first == BASELINE
        for name in (BASELINE, MULTI_VIEW):
            cfg = parse_config(experiments.load(ws, name))
            assert cfg.dataset == "demo"
        assert [v.type for v in parse_config(experiments.load(ws, MULTI_VIEW)).views] == \
            ["sasrec", "temporal", "action"]
    finally:
        ws.close()
    app = WorkbenchApp(tmp_path / "demo.db", experiment=first)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "compose" and
                       app.screen.query_one("#exp-name", Input).value == BASELINE, what="the composer on the demo")
        assert list(app.screen.query_one("#pick-views").selected) == ["sasrec"]
        await pilot.press("l")
        run_id = await wait_for(pilot, lambda: app.current_mode == "runs" and app.selected_run, what="launch")
        await wait_for(pilot, lambda: run_rows.detail(app.ws, run_id)["status"] in ("completed", "failed"),
                       timeout=240, what="demo run to finish")
        run = run_rows.detail(app.ws, run_id)
        assert run["status"] == "completed", run["error"]
        assert run["test_metrics"]["NDCG@10"] > 0
