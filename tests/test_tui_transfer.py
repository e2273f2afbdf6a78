"""The app's way to the transfer, new-user, RL and item-feature options, driven with keys: the composer sets a
warm start (a stored run from a picker, item matching), the split's training / held-out users and the sqn
head's reward options, saves and launches a real background run; the Datasets screen extracts audio
features from a folder of files named by raw item id."""

from __future__ import annotations

import numpy as np
import pytest
from textual.widgets import Input, Select

from test_item_features import write_tone
from test_tui_keys import home  # noqa: F401 - a fixture
from tui_helpers import demo_workspace, text_of, tiny_config, wait_for
from workbench.store import experiments, open_workspace
from workbench.store import runs as run_rows
from workbench.tui.app import WorkbenchApp

SIZE = (100, 40)
pytestmark = pytest.mark.usefixtures("home")   # WORKBENCH_HOME and the working folder under tmp_path


async def choose(pilot, select: Select, value) -> None:
    """Pick ``value`` in ``select`` with the keyboard: focus, enter, arrows, enter."""
    values = [v for _, v in select._options]
    select.screen.set_focus(select)
    await pilot.pause()
    here = values.index(select.value) if select.value in values else 0
    await pilot.press("enter")
    step = values.index(value) - here
    await pilot.press(*(["down"] * step if step > 0 else ["up"] * -step))
    await pilot.press("enter")
    await wait_for(pilot, lambda: select.value == value, what=f"{select.id} = {value!r}")


async def type_into(pilot, field: Input, text: str) -> None:
    """Replace the text of ``field`` with keys (home, delete to the end, the text)."""
    field.screen.set_focus(field)
    await pilot.pause()
    await pilot.press("ctrl+a", "ctrl+k", *text)
    await wait_for(pilot, lambda: field.value == text, what=f"{field.id} = {text!r}")


async def test_composer_sets_warm_start_users_and_sqn_rewards_with_keys_and_the_run_uses_them(tmp_path):
    from workbench.engine.runner import create_run, execute_run
    from workbench.store.catalogue import warm_start_report

    path = tmp_path / "w.db"
    demo_workspace(path)
    with open_workspace(path) as ws:
        source = create_run(ws, tiny_config("source"))
    execute_run(path, source)
    app = WorkbenchApp(path, experiment="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "compose" and app.screen.query("#exp-name"))
        screen = app.screen
        assert screen.query_one("#exp-name", Input).value == "tiny"
        await choose(pilot, screen.query_one("#pick-head", Select), "sqn")
        await wait_for(pilot, lambda: app.screen.query("#opt-head-sqn-gamma"), what="sqn options")
        screen = app.screen
        for name in ("reward_source", "rewards", "default_reward", "rating_center", "rating_scale", "gamma",
                     "q_weight", "double_q", "tau", "score_with"):
            assert screen.query(f"#opt-head-sqn-{name}"), name
        await type_into(pilot, screen.query_one("#opt-head-sqn-gamma", Input), "0.7")
        await type_into(pilot, screen.query_one("#opt-head-sqn-rewards", Input), '{"purchase": 2.0, "click": 0.5}')
        picker = screen.query_one("#init-run", Select)
        assert [v for _, v in picker._options][1:] == [source]          # the one run with a best checkpoint
        await choose(pilot, picker, source)
        await choose(pilot, screen.query_one("#opt-init_from-items", Select), "title")
        await choose(pilot, screen.query_one("#opt-init_from-unmatched", Select), "fresh")
        await type_into(pilot, screen.query_one("#opt-split-train_users", Input), "0.5")
        await type_into(pilot, screen.query_one("#opt-split-holdout_users", Input), "0.1")
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: "saved experiment 'tiny'" in text_of(screen.query_one("#compose-message")),
                       what="saved")
        saved = experiments.load(app.ws, "tiny")
        assert saved["init_from"] == {"run": source, "items": "title", "unmatched": "fresh"}
        assert saved["split"] == {"kind": "loo", "train_users": 0.5, "holdout_users": 0.1}
        assert saved["head"]["type"] == "sqn" and saved["head"]["gamma"] == 0.7
        assert saved["head"]["rewards"] == {"purchase": 2.0, "click": 0.5}
        # no warm start again: the picker's blank entry drops init_from
        await choose(pilot, screen.query_one("#init-run", Select), Select.NULL)
        assert "init_from" not in screen.read_config()
        await choose(pilot, screen.query_one("#init-run", Select), source)
        await pilot.press("escape", "l")
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.selected_run, what="the run monitor")
        run_id = app.selected_run
        await wait_for(pilot, lambda: run_rows.detail(app.ws, run_id)["status"] in ("completed", "failed"),
                       timeout=300, what="the launched run to finish")
        row = run_rows.detail(app.ws, run_id)
        assert row["status"] == "completed", row.get("error")
        report = warm_start_report(app.ws, run_id)
    assert report["source"]["run"] == source and report["items"]["mode"] == "title"
    assert report["items"]["unmatched_policy"] == "fresh" and report["items"]["rebuilt_from_text"] == 0
    assert row["config"]["split"]["train_users"] == 0.5 and row["config"]["head"]["rewards"]["purchase"] == 2.0
    assert "new_NDCG@10" in row["test_metrics"]                        # held-out users were evaluated apart


async def test_datasets_screen_extracts_audio_features_from_a_folder_with_keys(tmp_path):
    path = tmp_path / "w.db"
    demo_workspace(path)
    folder = tmp_path / "sounds"
    folder.mkdir()
    for item, hz in (("3", 440), ("7", 3000), ("12", 440)):
        write_tone(folder / f"{item}.wav", hz)
    write_tone(folder / "not-an-item.wav", 880)
    out = tmp_path / "vectors" / "demo-audio"  # typed relative to the working folder (tmp_path): fewer keys
    app = WorkbenchApp(path, start_mode="datasets")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "datasets" and app.screen.rows, what="datasets")
        screen = app.screen
        await pilot.press("f")
        dialog = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "FeaturesDialog" else None,
                                what="features dialog")
        await type_into(pilot, dialog.query_one("#feat-out", Input), "vectors/demo-audio")
        await type_into(pilot, dialog.query_one("#feat-source", Input), "nothing-here")
        await pilot.press("enter")
        message = lambda: text_of(screen.query_one("#ds-message"))  # noqa: E731
        await wait_for(pilot, lambda: "not extracted" in message(), timeout=60, what="error message")
        assert "nothing-here" in message() and not out.with_suffix(".npy").exists()
        await pilot.press("f")
        dialog = await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "FeaturesDialog" else None)
        await type_into(pilot, dialog.query_one("#feat-out", Input), "vectors/demo-audio")
        await type_into(pilot, dialog.query_one("#feat-source", Input), "sounds")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "wrote" in message(), timeout=120, what="extraction result")
        n_items = app.ws.db.execute("SELECT n_items FROM datasets WHERE name = 'demo'").fetchone()[0]
        assert "wrote 4 audio vectors" in message() and f"3 of {n_items} items of demo have one" in message()
    ids = out.with_suffix(".ids").read_text().splitlines()
    matrix = np.load(out.with_suffix(".npy"))
    assert ids == ["12", "3", "7", "not-an-item"] and matrix.shape == (4, 168)
    assert np.allclose(matrix[0], matrix[1]) and not np.allclose(matrix[1], matrix[2])   # 440 Hz twice, 3000 once
