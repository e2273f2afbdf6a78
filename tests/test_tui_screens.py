"""The app's screens driven with Pilot against real workspace files and a real data slice (no engine needed)."""

from __future__ import annotations

import tomllib

import pytest
from textual.widgets import DataTable, Input, Select

from tui_helpers import ratings_slice, table_rows, text_of, wait_for
from workbench.store import open_workspace
from workbench.store import experiments
from workbench.tui.app import WorkbenchApp

SIZE = (80, 24)


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("WORKBENCH_HOME", str(h))
    monkeypatch.delenv("WORKBENCH_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    return h


async def _import_slice(app, pilot, path, name="ratings"):
    await pilot.press("d")
    await wait_for(pilot, lambda: app.current_mode == "datasets", what="datasets screen")
    await pilot.press("n")
    wiz = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "ImportWizard" else None,
                         what="import wizard")
    wiz.query_one("#wiz-path", Input).value = str(path)
    wiz.detect()
    await wait_for(pilot, lambda: wiz.query_one("#wiz-format", Select).value not in (Select.NULL, None),
                   what="detected format")
    wiz.query_one("#wiz-format", Select).value = "csv"
    await wait_for(pilot, lambda: wiz.query("#opt-reader-csv-map"), what="reader options form")
    wiz.query_one("#opt-reader-csv-map", Input).value = "user=userId,item=movieId,time=timestamp,value=rating"
    wiz.preview()
    await wait_for(pilot, lambda: wiz.query_one("#preview", DataTable).row_count > 0, what="preview rows")
    rows = table_rows(wiz.query_one("#preview", DataTable))
    wiz.query_one("#wiz-name", Input).value = name
    wiz.do_import()
    await wait_for(pilot, lambda: app.screen is not wiz, what="wizard closed after import")
    return rows


async def test_import_wizard_previews_maps_columns_imports_and_shows_stats(home, tmp_path):
    data = ratings_slice(tmp_path, 2000)
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=SIZE) as pilot:
        rows = await _import_slice(app, pilot, data)
        user, item, rating, when = data.read_text().splitlines()[1].split(",")
        assert rows[0][:4] == [user, item, when, rating]     # mapped columns: user, item, time, value
        screen = app.screen
        await wait_for(pilot, lambda: "events/user" in text_of(screen.query_one("#ds-summary")),
                       what="dataset statistics")
        summary = text_of(screen.query_one("#ds-summary"))
        assert "2,000 events" in summary
        assert table_rows(screen.query_one("#ds-table", DataTable))[0][0] == "ratings"
        # the plots got real data: users per length bucket sum to the user count
        stats = screen.stats
        assert sum(stats["length_hist"][1]) == stats["users"]
        assert sum(stats["popularity"][1]) == 2000 and sum(stats["activity"][1]) == 2000
    with open_workspace(tmp_path / "w.db") as ws:
        assert ws.db.execute("SELECT n_interactions FROM datasets WHERE name='ratings'").fetchone()[0] == 2000


async def test_import_error_names_file_and_line_and_leaves_workspace_unchanged(home, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,ts\n1,10,100\n2,oops\n")
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await pilot.press("n")
        wiz = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "ImportWizard" else None)
        wiz.query_one("#wiz-path", Input).value = str(bad)
        wiz.query_one("#wiz-format", Select).value = "csv"
        await wait_for(pilot, lambda: wiz.query("#opt-reader-csv-map"), what="reader options form")
        wiz.query_one("#opt-reader-csv-map", Input).value = "user=user,item=item,time=ts"
        wiz.do_import()
        status = await wait_for(pilot, lambda: "line" in text_of(wiz.query_one("#wiz-status")) and
                                text_of(wiz.query_one("#wiz-status")), what="error message")
        assert "bad.csv" in status and "line 3" in status
        assert app.screen is wiz
    with open_workspace(tmp_path / "w.db") as ws:
        assert ws.db.execute("SELECT COUNT(*) FROM datasets").fetchone()[0] == 0
        assert ws.db.execute("SELECT COUNT(*) FROM interactions").fetchone()[0] == 0


async def test_composer_validates_with_key_saves_loads_and_exports_toml(home, tmp_path):
    data = ratings_slice(tmp_path, 1500)
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=SIZE) as pilot:
        await _import_slice(app, pilot, data)
        await pilot.press("e")
        screen = await wait_for(pilot, lambda: app.screen if app.current_mode == "compose" and
                                app.screen.query("#exp-dataset") else None)
        screen.query_one("#exp-dataset", Select).value = "ratings"
        screen.query_one("#exp-name", Input).value = "two-views"
        picker = screen.query_one("#pick-views")
        picker.deselect_all()
        picker.select("sasrec")
        picker.select("gru")
        await wait_for(pilot, lambda: app.screen.query("#opt-views-gru-dropout"), what="gru options form")
        screen = app.screen
        screen.query_one("#opt-views-sasrec-blocks", Input).value = "0"
        screen.action_validate()
        msg = text_of(screen.query_one("#compose-message"))
        assert "views[0].blocks" in msg and "minimum" in msg  # the kept view first, then new picks
        screen.query_one("#opt-views-sasrec-blocks", Input).value = "1"
        screen.query_one("#pick-head", Select).value = "softmax_ce"
        await wait_for(pilot, lambda: not getattr(app.screen, "_rebuilding", False) and
                       app.screen.query_one("#pick-head", Select).value == "softmax_ce", what="the head chosen")
        screen = app.screen
        screen.action_save()
        assert "saved experiment 'two-views'" in text_of(screen.query_one("#compose-message"))
        with_ws = experiments.load(app.ws, "two-views")
        assert [v["type"] for v in with_ws["views"]] == ["sasrec", "gru"]
        assert next(v for v in with_ws["views"] if v["type"] == "sasrec")["blocks"] == 1
        # export to TOML through the dialog; the file parses back to the same experiment
        screen.action_export_toml()
        ask = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "Ask" else None)
        target = tmp_path / "exp.toml"
        ask.query_one(Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists, what="TOML file")
        assert tomllib.loads(target.read_text()) == with_ws
        from workbench.engine.config import parse_config

        parse_config(tomllib.loads(target.read_text()))


async def test_workspaces_create_duplicate_delete_with_confirmation(home, tmp_path):
    app = WorkbenchApp(home / "main.db")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        screen = await wait_for(pilot, lambda: app.screen if app.current_mode == "workspaces" else None)
        await pilot.press("n")
        ask = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "Ask" else None)
        ask.query_one(Input).value = "second"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.ws_path == (home / "second.db").resolve(), what="switch to new workspace")
        names = [r[1] for r in table_rows(screen.query_one("#ws-table", DataTable))]
        assert names == ["main", "second"]
        # duplicate the highlighted one (cursor on main)
        screen.query_one("#ws-table", DataTable).move_cursor(row=0)
        await pilot.press("u")
        ask = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "Ask" else None)
        await pilot.press("enter")  # default name main-copy
        await wait_for(pilot, (home / "main-copy.db").exists, what="copy")
        # delete main-copy: needs confirmation, "no" keeps it
        rows = table_rows(screen.query_one("#ws-table", DataTable))
        screen.query_one("#ws-table", DataTable).move_cursor(row=[r[1] for r in rows].index("main-copy"))
        await pilot.press("delete")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "Confirm")
        await pilot.press("n")
        assert (home / "main-copy.db").exists()
        await pilot.press("delete")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "Confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: not (home / "main-copy.db").exists(), what="deletion")
        # the open workspace cannot be deleted
        rows = table_rows(screen.query_one("#ws-table", DataTable))
        screen.query_one("#ws-table", DataTable).move_cursor(row=[r[1] for r in rows].index("second"))
        await pilot.press("delete")
        assert "cannot delete the workspace that is open" in text_of(screen.query_one("#ws-message"))
        assert (home / "second.db").exists()


async def test_help_and_command_palette_at_80x24(home, tmp_path):
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunsScreen")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Go to Compare", "Datasets: Import", "Experiment: Launch", "Help"):
            assert wanted in titles
        # mouse: clicking a tab in the navigation bar switches screens
        await pilot.press("c")
        await wait_for(pilot, lambda: app.current_mode == "compare")
        await pilot.press("p")
        screen = await wait_for(pilot, lambda: app.screen if app.current_mode == "plugins" else None)
        rows = table_rows(screen.query_one("#plugins-table", DataTable))
        assert ["view", "sasrec"] in [r[:2] for r in rows]
        assert all(r[2] == "seqrec-workbench" for r in rows if r[1] == "sasrec")


async def test_a_file_that_is_not_a_workspace_ends_the_app_with_its_message_and_is_untouched(home, tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_text("my notes, not a database\n")
    app = WorkbenchApp(bad)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.return_code == 2, what="the app to give up")
    assert bad.read_text() == "my notes, not a database\n"
    assert app.return_code == 2
