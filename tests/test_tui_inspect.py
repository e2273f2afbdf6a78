"""The Inspect screen driven with keys on a real trained run (generated demo data, so these never skip):
the model is loaded once and kept (issue 14), a run whose dataset changed is refused even with its model
kept (issue 15), each recommendation is explained through the actual fusion, and a new user is served
from typed raw item ids (issue 16), all by the same engine path as `workbench recommend` / `explain`."""

from __future__ import annotations

import json
import shutil
from contextlib import asynccontextmanager

import pytest
from textual.widgets import DataTable, Input, Static

from demo_run_helpers import cli, config, demo_workspace, train
from tui_helpers import table_rows, text_of, wait_for
from workbench.tui.app import WorkbenchApp

SIZE = (100, 30)
TWO_VIEWS = [{"type": "sasrec", "blocks": 1, "heads": 1, "dropout": 0.0}, {"type": "action"}]


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory):
    """A workspace folder with the demo dataset and one completed two-view run (1 epoch)."""
    folder = tmp_path_factory.mktemp("inspect")
    ws = demo_workspace(folder, users=80, items=60)
    cfg = config(views=TWO_VIEWS, fusion={"type": "attention"})
    cfg["trainer"]["epochs"] = 1
    run_id = train(ws, cfg)
    return folder, run_id


@pytest.fixture
def trained(trained_folder, tmp_path, monkeypatch):
    """A fresh copy of the trained workspace for one test: (workspace path, run id)."""
    folder, run_id = trained_folder
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    return copy / "demo.db", run_id


async def inspect_screen(app, pilot, run_id: int):
    """The Inspect screen once it showed the first user's recommendations from the run (on arrival)."""
    await wait_for(pilot, lambda: app.current_mode == "runs")
    await pilot.press("i")
    screen = await wait_for(pilot, lambda: app.screen if app.current_mode == "inspect" else None)
    await wait_for(pilot, lambda: "loading the model" in message(screen) or screen.answers, what="loading said")
    await wait_for(pilot, lambda: screen.keeper_holds(run_id) and screen.answers and screen.explanations,
                   timeout=120, what="the model loaded (in a worker) and the first user's answers")
    assert screen.query_one("#inspect-user", Input).value == "1"
    return screen


@asynccontextmanager
async def inspecting(ws, run_id: int, user: str | None = None):
    """(app, pilot, Inspect screen) of the app on ``ws``; with ``user``: their recommendations shown."""
    app = WorkbenchApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await inspect_screen(app, pilot, run_id)
        if user is not None:
            await ask_user(pilot, screen, user)
        yield app, pilot, screen


def replace_demo_data(ws) -> None:
    """Replace the ``demo`` dataset by other generated data under the same name (what `data import
    --replace --force` does), from another connection, as another process would."""
    from workbench.data.demo import DemoSpec, generate
    from workbench.data.importer import import_raw
    from workbench.store import open_workspace

    with open_workspace(ws) as other:
        import_raw(other, generate(DemoSpec(users=90, items=60, sessions_per_user=5.0, seed=7)), name="demo",
                   fmt="demo", replace=True, force=True)


def message(screen) -> str:
    return text_of(screen.query_one("#inspect-message"))


def why(screen) -> str:
    return text_of(screen.query_one("#why", Static))


async def ask_user(pilot, screen, user: str) -> None:
    """Type ``user`` into the user field and press enter; wait for the answer and its explanation."""
    answers, explanations = screen.answers, screen.explanations
    screen.query_one("#inspect-user", Input).focus()
    await pilot.press("ctrl+a", "ctrl+k", *user, "enter")       # home, delete to the end, type, enter
    await wait_for(pilot, lambda: screen.answers > answers and screen.explanations > explanations, timeout=120,
                   what=f"recommendations and why for user {user}")


def rec_rows(screen) -> list[list[str]]:
    return table_rows(screen.query_one("#recs", DataTable))


async def test_inspect_loads_the_model_once_explains_through_the_fusion_as_the_cli_does(trained):
    ws, run_id = trained
    async with inspecting(ws, run_id, "3") as (app, pilot, screen):
        kept = screen.keeper()._run
        rows = rec_rows(screen)
        assert len(rows) == 10
        columns = [str(c.label) for c in screen.query_one("#recs", DataTable).columns.values()]
        assert columns == ["#", "item", "score", "Δ sasrec", "Δ action"]
        assert "fusion weights: sasrec" in message(screen)
        assert screen.query_one("#history", DataTable).row_count > 0

        # the same items as `workbench recommend` (the one top-K path), in the same order
        out = cli(ws, "recommend", "--run", run_id, "--user", "3", "--json")
        assert out.returncode == 0, out.stderr
        served = json.loads(out.stdout)["items"]
        assert [r[1] for r in rows] == [r["title"][:34] for r in served]
        # the top item's explanation is the one `workbench explain` gives: views through the fusion, events
        out = cli(ws, "explain", "--run", run_id, "--user", "3", "--item", served[0]["item"], "--json")
        assert out.returncode == 0, out.stderr
        explained = json.loads(out.stdout)
        shown = why(screen)
        assert explained["item"]["title"] in shown and "history events that drove it" in shown
        for k, view in enumerate(explained["views"]):
            assert float(rows[0][3 + k]) == pytest.approx(view["contribution"], abs=2e-3)
            assert f"{view['contribution']:+.3f}" in shown
        assert explained["events"][0]["title"] in shown
        # the events that drove it are marked in the history table, with their attribution
        history = {r[0]: r[1] for r in table_rows(screen.query_one("#history", DataTable))}
        for e in explained["events"]:
            assert float(history[str(e["position"] + 1)]) == pytest.approx(e["attribution"], abs=2e-3)
        assert sum(1 for v in history.values() if v) == len(explained["events"])

        # the next recommendation: its own explanation
        screen.query_one("#recs", DataTable).focus()
        explanations = screen.explanations
        await pilot.press("down")
        await wait_for(pilot, lambda: screen.explanations > explanations, what="why of the second item")
        assert served[1]["title"] in why(screen).splitlines()[0]

        # the next user: the kept model answers (no second load)
        answers = screen.answers
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.answers > answers, timeout=60, what="the next user's recommendations")
        assert screen.query_one("#inspect-user", Input).value == "4"
        assert screen.keeper()._run is kept


async def test_a_new_user_from_typed_raw_item_ids_and_unknown_ids_named(trained):
    ws, run_id = trained
    async with inspecting(ws, run_id) as (app, pilot, screen):
        screen.set_focus(None)
        await pilot.press("n")
        field = screen.query_one("#inspect-history", Input)
        assert screen.focused is field
        answers = screen.answers
        await pilot.press(*"5, 9,12", "enter")
        await wait_for(pilot, lambda: screen.answers > answers and screen.explanations, timeout=60,
                       what="recommendations for the new user")
        assert "a new user (3 events)" in message(screen)
        out = cli(ws, "recommend", "--run", run_id, "--history", "5,9,12", "--json")
        assert out.returncode == 0, out.stderr
        assert [r[1] for r in rec_rows(screen)] == [r["title"][:34] for r in json.loads(out.stdout)["items"]]
        history = table_rows(screen.query_one("#history", DataTable))
        assert [r[0] for r in history] == ["1", "2", "3"]

        await pilot.press("ctrl+a", "ctrl+k", *"5,nope,77777", "enter")
        await wait_for(pilot, lambda: "unknown item ids" in message(screen), timeout=60, what="the error")
        assert "'nope'" in message(screen) and "'77777'" in message(screen) and "'5'" not in message(screen)
        assert screen.query_one("#recs", DataTable).row_count == 0 and not why(screen).strip()


async def test_inspect_refuses_a_run_whose_dataset_was_replaced_after_its_model_was_kept(trained):
    ws, run_id = trained
    async with inspecting(ws, run_id, "3") as (app, pilot, screen):
        assert screen.query_one("#recs", DataTable).row_count == 10
        replace_demo_data(ws)           # while the app keeps the run's model
        screen.query_one("#inspect-user", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "trained on other data" in message(screen), what="the refusal")
        assert f"run {run_id}" in message(screen)
        assert screen.query_one("#recs", DataTable).row_count == 0 and not why(screen).strip()
        assert screen.query_one("#history", DataTable).row_count == 0
        # the new-user path and the next-user key refuse too
        screen.query_one("#inspect-history", Input).value = "5,9"
        screen.query_one("#inspect-history", Input).focus()
        await pilot.press("enter")
        assert "trained on other data" in message(screen) and screen.query_one("#recs", DataTable).row_count == 0
        screen.set_focus(None)
        await pilot.press("ctrl+n")
        assert "trained on other data" in message(screen) and screen.query_one("#recs", DataTable).row_count == 0


async def test_the_kept_model_refuses_when_asked_directly_after_the_data_changed(trained):
    """The worker's own check (not only the screen's): a request that reached the model keeper after the
    dataset changed is refused and the kept model is dropped."""
    from workbench.engine.inspection import KeptRun
    from workbench.store.runs import DataChanged

    ws, run_id = trained
    keeper = KeptRun(device="cpu")
    first = keeper.get(ws, run_id)
    assert keeper.get(ws, run_id) is first and keeper.holds(ws, run_id)
    replace_demo_data(ws)
    with pytest.raises(DataChanged, match="trained on other data"):
        keeper.get(ws, run_id)
    assert not keeper.holds(ws, run_id)


async def test_arriving_on_a_run_whose_dataset_changed_says_so_without_loading_it(trained):
    ws, run_id = trained
    replace_demo_data(ws)
    app = WorkbenchApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs")
        await pilot.press("i")
        screen = await wait_for(pilot, lambda: app.screen if app.current_mode == "inspect" else None)
        await wait_for(pilot, lambda: "trained on other data" in message(screen), what="the refusal on arrival")
        assert message(screen).startswith(f"run {run_id} was trained on other data")
        assert "loading" not in message(screen) and screen._keeper is None       # no model was loaded
        assert screen.query_one("#recs", DataTable).row_count == 0
