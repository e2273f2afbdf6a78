"""SVG snapshots of the main screens at 80x24 (update with ``pytest --snapshot-update`` after reviewing).

Deterministic by construction: a workspace always named ``snap`` in a temporary
folder (only its name is shown), a fixed real data slice, no runs (training
timings would vary), and no clock-dependent text on these screens. The composer
snapshot shows the installed plugins: adding a built-in plugin changes it.
"""

from __future__ import annotations

import pytest

from tui_helpers import ratings_slice, text_of, wait_for
from workbench.store import open_workspace
from workbench.tui.app import WorkbenchApp

SIZE = (80, 24)


def still(app: WorkbenchApp) -> WorkbenchApp:
    """No animations (a tab underline mid-slide would make the picture depend on timing)."""
    app.animation_level = "none"
    return app


async def settled(pilot) -> None:
    """Animations done and the app idle (its pending messages handled): the next frame is the final one."""
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.fixture
def empty_ws(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "snap.db"


@pytest.fixture
def data_ws(tmp_path, monkeypatch):
    from workbench.data.importer import import_path

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    data = ratings_slice(tmp_path, 1500)
    path = tmp_path / "snap.db"
    with open_workspace(path, create=True) as ws:
        import_path(ws, data, name="ratings", fmt="csv",
                    reader_options={"map": "user=userId,item=movieId,time=timestamp,value=rating"})
    return path


def test_runs_screen_on_a_new_workspace(snap_compare, empty_ws):
    assert snap_compare(still(WorkbenchApp(empty_ws)), terminal_size=SIZE)


def test_help_screen(snap_compare, empty_ws):
    assert snap_compare(still(WorkbenchApp(empty_ws)), press=["question_mark", "_"], terminal_size=SIZE)


def test_datasets_screen_with_statistics(snap_compare, data_ws):
    async def ready(pilot):
        app = pilot.app
        await wait_for(pilot, lambda: app.current_mode == "datasets" and
                       "events/user" in text_of(app.screen.query_one("#ds-summary")), what="statistics")
        await settled(pilot)

    assert snap_compare(still(WorkbenchApp(data_ws, start_mode="datasets")), terminal_size=SIZE, run_before=ready)


def test_import_wizard(snap_compare, empty_ws):
    """The wizard opens with the focus in its path field (a typed key would go there: no "_" pause key)."""
    async def ready(pilot):
        await wait_for(pilot, lambda: pilot.app.current_mode == "datasets")
        await pilot.press("n")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ImportWizard" and
                       getattr(pilot.app.screen.focused, "id", None) == "wiz-path")
        pilot.app.screen.focused.cursor_blink = False  # a blinking cursor would make the picture depend on timing
        await settled(pilot)

    assert snap_compare(still(WorkbenchApp(empty_ws, start_mode="datasets")), terminal_size=SIZE, run_before=ready)


def test_composer(snap_compare, data_ws):
    async def ready(pilot):
        await wait_for(pilot, lambda: pilot.app.current_mode == "compose" and pilot.app.screen.query("#trainer-form"))
        await settled(pilot)

    assert snap_compare(still(WorkbenchApp(data_ws, start_mode="compose")), terminal_size=SIZE, run_before=ready)
