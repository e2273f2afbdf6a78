"""The app never goes dead: each defect of issue 14 driven with real keys on a real workspace (generated demo
data, so these never skip), and every key listed in the help pressed on every screen."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Label, Log
from tui_helpers import demo_workspace, polls_pass, table_rows, text_of, wait_for
from workbench.store import runs as run_rows
from workbench.store import open_workspace
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.keybar import KeyBar

SIZE = (80, 24)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


async def test_moving_through_six_runs_refills_the_table_a_bounded_number_of_times_and_goes_idle(home, tmp_path):
    ids = demo_workspace(tmp_path / "w.db", runs=6)
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=SIZE) as pilot:
        runs = await wait_for(pilot, lambda: app.screen if app.current_mode == "runs" and
                              app.screen.query_one("#runs-table", DataTable).row_count == 6 else None,
                              what="six runs listed")
        table = runs.query_one("#runs-table", DataTable)
        assert app.selected_run == ids[-1]  # newest first, selected
        table.focus()
        await polls_pass(pilot, runs)
        before = runs.refills
        for key, steps in (("down", range(1, 6)), ("up", range(4, -1, -1))):
            for step in steps:
                await pilot.press(key)
                want = ids[-1 - step]
                await wait_for(pilot, lambda want=want: app.selected_run == want, what=f"run {want} selected")
        await polls_pass(pilot, runs)
        refills = runs.refills
        assert refills - before == 0, f"the runs table was refilled {refills - before} times for 10 cursor moves"
        assert refills <= 2  # the first fill (and one more if a poll came before it)
        # idle: nothing keeps going once the keys stop (no selection ping-pong between two runs)
        selected = app.selected_run
        await polls_pass(pilot, runs)
        assert runs.refills == refills and app.selected_run == selected == ids[-1]
        assert table.cursor_row == 0
        assert f"run {ids[-1]}" in text_of(runs.query_one("#run-title", Label))
        await pilot.press("down", "down")
        await wait_for(pilot, lambda: f"run {ids[-3]}" in text_of(runs.query_one("#run-title", Label)),
                       what="monitor follows the cursor")
        await polls_pass(pilot, runs)
        assert app.selected_run == ids[-3] and table.cursor_row == 2
        # the footer at 80 columns: the screen keys and help are visible (not cut after the screen's own keys),
        # and it is not rebuilt when the keys it shows did not change (another screen and back)
        bar = runs.query_one(KeyBar)
        palette = bar.query_one("FooterKey.-command-palette")
        shown = {k.key for k in bar.query("FooterKey") if k is not palette and k.region.right <= palette.region.x}
        assert {"d", "e", "r", "c", "question_mark"} <= shown, shown
        rebuilds = bar.rebuilds
        await pilot.press("c")
        await wait_for(pilot, lambda: app.current_mode == "compare", what="compare")
        await pilot.press("r")
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen is runs, what="runs again")
        await pilot.pause()
        assert bar.rebuilds == rebuilds
        # a screen shown again shows what changed while it was hidden (Compare was seen once above)
        run_rows.set_status(app.ws, ids[0], "cancelled")
        await pilot.press("c")
        compare = await wait_for(pilot, lambda: app.screen if app.current_mode == "compare" else None)
        await wait_for(pilot, lambda: [str(ids[0]), "cancelled"] in [r[:3:2] for r in table_rows(
            compare.query_one("#compare-table", DataTable))], what="the run's new status on Compare")


async def test_a_new_run_shown_from_the_composer_stays_selected(home, tmp_path):
    """launch() used to return the previous run: refilling the table moved the selection back to it."""
    from tui_helpers import tiny_config
    from workbench.engine.runner import create_run
    from workbench.store import open_workspace

    ids = demo_workspace(tmp_path / "w.db", runs=3)
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=SIZE) as pilot:
        runs = await wait_for(pilot, lambda: app.screen if app.current_mode == "runs" and
                              app.screen.query_one("#runs-table", DataTable).row_count == 3 else None)
        runs.query_one("#runs-table", DataTable).focus()
        await pilot.press("down")  # the user looked at an older run
        await wait_for(pilot, lambda: app.selected_run == ids[1])
        await pilot.press("e")
        await wait_for(pilot, lambda: app.current_mode == "compose")
        with open_workspace(tmp_path / "w.db") as ws:  # what the launch worker thread does
            new = create_run(ws, tiny_config("new"))
        # the runs screen polls meanwhile (hidden) and sees the new run
        await wait_for(pilot, lambda: runs.query_one("#runs-table", DataTable).row_count == 4, what="polled while hidden")
        assert app.current_mode == "compose"
        app.show_run(new)  # what the launch does when its thread is done
        await wait_for(pilot, lambda: app.current_mode == "runs" and
                       runs.query_one("#runs-table", DataTable).row_count == 4, what="the new run listed")
        await polls_pass(pilot, runs)
        assert app.selected_run == new
        assert f"run {new}" in text_of(runs.query_one("#run-title", Label))
        assert table_rows(runs.query_one("#runs-table", DataTable))[runs.query_one("#runs-table").cursor_row][0] \
            == str(new)


async def test_load_in_the_composer_is_a_picker_and_leaves_the_keyboard_working(home, tmp_path):
    demo_workspace(tmp_path / "w.db")
    app = WorkbenchApp(tmp_path / "w.db", start_mode="compose")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "compose" and app.screen.query("#exp-name"))
        await pilot.press("o")
        picker = await wait_for(pilot, lambda: app.screen if app.screen.is_modal else None, what="the load dialog")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "compose" and type(app.screen).__name__ == "ComposerScreen"
                       and "loaded 'tiny'" in text_of(app.screen.query_one("#compose-message")), what="loaded")
        assert app.screen.query_one("#exp-name", Input).value == "tiny"
        focused = app.screen.focused
        assert focused is not None and focused.is_attached  # never a removed widget
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: app.current_mode == "runs", what="r works after Load")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", what="? works")
        await pilot.press("escape")
        await pilot.press("e")
        await wait_for(pilot, lambda: app.current_mode == "compose")
    assert type(picker).__name__ == "Pick"  # a list to choose from, not a text to type


async def test_escape_leaves_a_text_field_and_letter_keys_work_again(home, tmp_path):
    demo_workspace(tmp_path / "w.db")
    app = WorkbenchApp(tmp_path / "w.db", start_mode="compose")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "compose" and app.screen.query("#exp-name"))
        name = app.screen.query_one("#exp-name", Input)
        name.focus()
        await pilot.press("end", "x", "r")
        assert name.value.endswith("xr") and app.current_mode == "compose"  # typed, not switched
        await pilot.press("escape")
        assert app.screen.focused is None
        await pilot.press("r")
        await wait_for(pilot, lambda: app.current_mode == "runs", what="r switches after escape")


async def test_a_failed_run_shows_its_stored_error_in_the_header_and_the_log(home, tmp_path):
    from workbench.data.demo import DemoSpec, generate
    from workbench.data.importer import import_raw
    from workbench.engine.runner import execute_run
    from workbench.store import open_workspace

    [run_id] = demo_workspace(tmp_path / "w.db", runs=1, status="cancelled")
    with open_workspace(tmp_path / "w.db") as ws:  # the dataset is replaced by other data before it resumes
        import_raw(ws, generate(DemoSpec(users=90, items=60, sessions_per_user=3, seed=7)), name="demo", fmt="demo",
                   replace=True, force=True)
    with pytest.raises(RuntimeError, match="changed since run"):
        execute_run(tmp_path / "w.db", run_id, resume=True)
    with open_workspace(tmp_path / "w.db") as ws:
        error = run_rows.detail(ws, run_id)["error"]
    assert "changed since run" in error and "Traceback" in error
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=(100, 30)) as pilot:
        runs = await wait_for(pilot, lambda: app.screen if app.current_mode == "runs" and
                              "failed" in text_of(app.screen.query_one("#run-title")) else None)
        await wait_for(pilot, lambda: "changed since run" in text_of(runs.query_one("#run-title", Label)),
                       what="the error in the header")
        log = runs.query_one("#run-log", Log)
        await wait_for(pilot, lambda: any("changed since run" in line for line in log.lines),
                       what="the traceback in the log")
        assert any("Traceback" in line for line in log.lines)


async def test_deleting_a_dataset_says_what_happens_to_its_runs_and_they_keep_its_name(home, tmp_path):
    ids = demo_workspace(tmp_path / "w.db", runs=2, status="cancelled")
    app = WorkbenchApp(tmp_path / "w.db", start_mode="datasets")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "datasets" and
                       app.screen.query_one("#ds-table", DataTable).row_count == 1)
        app.screen.query_one("#ds-table", DataTable).focus()
        await pilot.press("delete")
        confirm = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "Confirm" else None)
        question = confirm.query_one("#question", Label)
        text = text_of(question)
        assert "2 runs" in text and "keep" in text
        # the whole warning is visible: the label wraps inside the dialog instead of being cut
        assert question.size.height >= 2 and question.size.width <= confirm.query_one("#dialog").size.width
        assert question.virtual_size.width <= question.size.width
        await pilot.press("y")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "DatasetsScreen" and
                       app.screen.query_one("#ds-table", DataTable).row_count == 0, what="deleted")
        listed = {r["id"]: r["dataset"] for r in run_rows.monitor_list(app.ws)}
        assert listed == {ids[0]: "demo (deleted)", ids[1]: "demo (deleted)"}
        await pilot.press("c")
        compare = await wait_for(pilot, lambda: app.screen if app.current_mode == "compare" and
                                 app.screen.query_one("#compare-table", DataTable).row_count == 2 else None)
        assert all("demo (deleted)" in r for r in table_rows(compare.query_one("#compare-table", DataTable)))


async def test_open_another_workspace_updates_the_top_bar_and_every_screen(home, tmp_path):
    demo_workspace(tmp_path / "first.db", runs=1)
    demo_workspace(tmp_path / "second.db", runs=3)
    app = WorkbenchApp(tmp_path / "first.db")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs" and
                       app.screen.query_one("#runs-table", DataTable).row_count == 1)
        await pilot.press("w")
        screen = await wait_for(pilot, lambda: app.screen if app.current_mode == "workspaces" and
                                app.screen.query_one("#ws-table", DataTable).row_count else None)
        assert "first" in text_of(screen.query_one("NavBar"))
        app.open_workspace_path(tmp_path / "second.db")
        await wait_for(pilot, lambda: "second" in text_of(screen.query_one("NavBar")), what="top bar updated")
        assert "first" not in text_of(screen.query_one("NavBar")).split("│")[0]
        await pilot.press("r")
        await wait_for(pilot, lambda: app.current_mode == "runs" and
                       app.screen.query_one("#runs-table", DataTable).row_count == 3, what="runs of the second")
        assert "second" in text_of(app.screen.query_one("NavBar"))


async def test_finished_workers_are_reaped_while_the_app_runs(home, tmp_path):
    """A worker started from the app does not stay <defunct> after its job ends."""
    from tui_helpers import tiny_config

    demo_workspace(tmp_path / "w.db")
    app = WorkbenchApp(tmp_path / "w.db", start_mode="compose")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "compose" and app.screen.query("#exp-name"))
        app.screen.config = tiny_config("reaped")
        await app.screen.recompose_keeping_focus()
        await pilot.press("l")
        run_id = await wait_for(pilot, lambda: app.current_mode == "runs" and
                                app.selected_run if app.selected_run else None, what="launched")
        await wait_for(pilot, lambda: run_rows.detail(app.ws, run_id)["status"] in ("completed", "failed"),
                       timeout=240, what="the run to finish")
        pids = [r[0] for r in app.ws.db.execute("SELECT pid FROM jobs WHERE pid IS NOT NULL")]
        assert pids

        await wait_for(pilot, lambda: all(not _zombie(p) and not _running(p) for p in pids), timeout=60,
                       what="the finished worker reaped (no <defunct>)")
        # the monitor: the curve shows the monitored metric; m picks another from a list
        monitor = app.screen
        assert run_rows.detail(app.ws, run_id)["status"] == "completed"
        await wait_for(pilot, lambda: getattr(monitor, "shown_metric", None) == "NDCG@10", what="monitored metric")
        await pilot.press("m")
        picker = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "Pick" else None)
        options = picker.query_one("#choices")
        wanted = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == "HR@10")
        options.highlighted = wanted
        await pilot.press("enter")
        await wait_for(pilot, lambda: monitor.shown_metric == "HR@10", what="picked metric")
        assert monitor.query_one("#metric-plot").title == "validation HR@10"


def _stat_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def _zombie(pid: int) -> bool:
    return _stat_state(pid) == "Z"


def _running(pid: int) -> bool:
    state = _stat_state(pid)
    return state is not None and state != "Z"


def help_keys() -> list[tuple[str, str]]:
    """(screen mode or '*', key) for every key the help screen lists."""
    from workbench.tui.screen_list import GLOBAL_KEYS, SCREENS, screen_bindings

    keys = [("*", s.key) for s in SCREENS]
    keys += [("*", k) for ks, _, _ in GLOBAL_KEYS for k in ks if k != "q"]
    keys += [(s.mode, k) for s in SCREENS for k, _ in screen_bindings(s)]
    return keys


def distinct_keys() -> list[str]:
    """Every key the help lists, once (screens share letters: n, o, s, u, x, delete)."""
    return list(dict.fromkeys(k for _, k in help_keys()))


def de_bruijn(k: int) -> list[int]:
    """A cyclic sequence over 0..k-1 in which every ordered pair (a, b) occurs exactly once as neighbours."""
    a, seq = [0] * 3, []

    def db(t: int, p: int) -> None:
        if t > 2:
            if 2 % p == 0:
                seq.extend(a[1:p + 1])
        else:
            a[t] = a[t - p]
            db(t + 1, p)
            for j in range(a[t - p] + 1, k):
                a[t] = j
                db(t + 1, t)
    db(1, 1)
    return seq


async def press_and_recover(app, pilot, mode: str, key: str) -> None:
    """Press ``key`` on the screen of ``mode``; a modal it opens must close with escape; no exception."""
    await pilot.press(key)
    for _ in range(3):
        if not app.screen.is_modal:
            break
        await pilot.press("escape")
    assert app.return_code is None and app._exception is None, (mode, key)
    assert not app.screen.is_modal, (mode, key)


async def test_every_key_in_the_help_on_every_screen_answers_and_the_app_stays_alive(home, tmp_path):
    """Each screen gets every key the help lists. The screen keys (w d e r c i p) are pressed on every screen
    along a de Bruijn cycle, so each (screen, key) pair is one press and each press a switch that must land."""
    from workbench.tui.screen_list import SCREENS, key_label
    from workbench.tui.screens.help import help_text

    demo_workspace(tmp_path / "w.db", runs=2)
    listed = help_text()
    nav = {s.key for s in SCREENS}
    others = [k for k in distinct_keys() if k not in nav]
    for key in distinct_keys():
        assert f"`{key_label(key)}`" in listed or key in ("f1", "shift+tab"), key
    cycle = de_bruijn(len(SCREENS))
    assert len(cycle) == len(SCREENS) ** 2
    app = WorkbenchApp(tmp_path / "w.db")
    visited: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs")
        first = SCREENS[cycle[0]]
        await pilot.press(first.key)
        await wait_for(pilot, lambda: app.current_mode == first.mode)
        for i in range(1, len(cycle) + 1):
            here, there = SCREENS[cycle[i - 1]], SCREENS[cycle[i % len(cycle)]]
            if here.mode not in visited:  # first visit: every other key the help lists, on this screen
                visited.add(here.mode)
                for key in others:
                    if app.current_mode != here.mode:
                        await pilot.press(here.key)
                    await wait_for(pilot, lambda here=here: app.current_mode == here.mode and not app.screen.is_modal,
                                   what=f"back on {here.mode}")
                    app.screen.set_focus(None)
                    await press_and_recover(app, pilot, here.mode, key)
                if app.current_mode != here.mode:
                    await pilot.press(here.key)
                await wait_for(pilot, lambda here=here: app.current_mode == here.mode, what=f"back on {here.mode}")
            app.screen.set_focus(None)
            await press_and_recover(app, pilot, here.mode, there.key)
            await wait_for(pilot, lambda there=there: app.current_mode == there.mode,
                           what=f"{there.key} on {here.mode} shows {there.mode}")
            pairs.add((here.mode, there.key))
    assert len(pairs) == len(SCREENS) ** 2 and visited == {s.mode for s in SCREENS}
    # any job a key launched is cancelled so no worker outlives the test
    from workbench.jobs.queue import list_jobs, request_cancel

    with open_workspace(tmp_path / "w.db") as ws:
        for job in list_jobs(ws, include_finished=False):
            request_cancel(ws, job["id"])


async def test_quit_says_when_jobs_keep_running(home, tmp_path, capsys):
    from workbench.jobs.queue import enqueue
    from workbench.store import open_workspace

    import os
    import socket

    from workbench.store.jobs import register_worker

    [run_id] = demo_workspace(tmp_path / "w.db", runs=1)
    with open_workspace(tmp_path / "w.db") as ws:
        job = enqueue(ws, run_id, "cpu")
        # a live worker serves the device (this process), so the queued job is not failed as stranded after
        # STRANDED_AFTER_S when the app takes long to start on a loaded machine
        register_worker(ws, os.getpid(), socket.gethostname(), "cpu")
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.selected_run == run_id)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running or app._exit_renderables, what="quit")
    said = " ".join(capsys.readouterr().err.split())
    assert f"(job {job})" in said and "keep running" in said


async def test_the_palette_offers_every_action_of_every_screen(home, tmp_path):
    from workbench.tui.screen_list import SCREENS

    wanted = {"Experiment: Save", "Experiment: Load", "Experiment: Launch", "Experiment: TOML", "Runs: Cancel run",
              "Runs: Resume", "Datasets: Import", "Datasets: Delete", "Compare: CSV", "Compare: Markdown"}
    app = WorkbenchApp(tmp_path / "w.db")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert wanted <= titles, wanted - titles
        assert {f"Go to {s.title}" for s in SCREENS} <= titles
