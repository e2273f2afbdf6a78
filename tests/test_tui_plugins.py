"""Uninstalling a plugin from the app's Plugins screen removes it from the composer's choices (issue 14, defect 6).

The example plugin is installed with the real `workbench plugins install` into a throwaway environment (not
this one); the app under test sees that environment's packages and runs its pip through that environment's
interpreter, so the Uninstall button goes the path a user's click goes: `workbench plugins uninstall` in a
subprocess, then the app reloads its plugin registry.
"""

from __future__ import annotations

import subprocess
import sys

from textual.widgets import Input, SelectionList
from test_example_plugin import EXAMPLE, make_env
from tui_helpers import demo_workspace, text_of, wait_for
from workbench.tui.app import WorkbenchApp


def evaluator_choices(screen) -> list[str]:
    picks = screen.query_one("#pick-evaluators", SelectionList)
    return [picks.get_option_at_index(i).value for i in range(picks.option_count)]


async def test_uninstall_from_the_plugins_screen_drops_the_plugin_from_the_composer(tmp_path, monkeypatch,
                                                                                    run_workbench):
    import shutil

    from workbench.plugins import get_registry

    python = make_env(tmp_path, "venv")
    source = tmp_path / "example-src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    run_workbench("plugins", "install", str(source), "--no-deps", "--no-build-isolation", "--no-index",
                  python=python, env={"WORKBENCH_LOAD_PLUGINS": None}, check=True, timeout=300)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_LOAD_PLUGINS", raising=False)
    monkeypatch.syspath_prepend(purelib)  # this process sees the throwaway environment's packages ...
    monkeypatch.setattr(sys, "executable", str(python))  # ... and the app's pip runs in it
    demo_workspace(tmp_path / "w.db")
    try:
        assert "longtail" in get_registry(reload=True).names("evaluator")
        app = WorkbenchApp(tmp_path / "w.db", start_mode="compose")
        async with app.run_test(size=(100, 30)) as pilot:
            composer = await wait_for(pilot, lambda: app.screen if app.current_mode == "compose" and
                                      app.screen.query("#pick-evaluators") else None, what="the composer")
            assert "longtail" in evaluator_choices(composer)
            await pilot.press("p")
            plugins = await wait_for(pilot, lambda: app.screen if app.current_mode == "plugins" else None)
            plugins.query_one("#plugin-spec", Input).focus()
            await pilot.press(*"example_evaluator")
            await pilot.click("#uninstall")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "Confirm", what="the confirm dialog")
            await pilot.press("y")
            result = plugins.query_one("#plugin-result")
            await wait_for(pilot, lambda: "done: workbench plugins uninstall" in text_of(result) or
                           "failed" in text_of(result), timeout=300, what="pip to finish")
            assert "done" in text_of(result), text_of(result)
            await pilot.press("escape", "e")
            composer = await wait_for(pilot, lambda: app.screen if app.current_mode == "compose" and
                                      app.screen.query("#pick-evaluators") else None, what="the composer again")
            await wait_for(pilot, lambda: "longtail" not in evaluator_choices(app.screen),
                           what="longtail gone from the composer")
            assert "ranking" in evaluator_choices(app.screen)  # the built-ins stay
    finally:
        monkeypatch.undo()
        get_registry(reload=True)  # later tests get this environment's plugins only
