"""A plugin calling sys.exit() or raising KeyboardInterrupt at import is isolated like any broken
plugin: every command still works and the failure is listed (issue 15, item 7)."""

from __future__ import annotations

import json

from integrity_helpers import CSV_MAP, write_ratings

BAD = {"wbtest-exits": {"wbtest_exits": "wbtest_exits"},
       "wbtest-interrupts": {"wbtest_interrupts": "wbtest_interrupts"}}


def test_exit_and_interrupt_at_import_do_not_kill_commands(plugin_site, run_workbench, wb_home, tmp_path):
    env = plugin_site(BAD)
    listed = run_workbench("plugins", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    errors = {e["plugin"]: e["error"] for e in data["errors"]}
    assert errors["wbtest_exits"] == "SystemExit: 3"
    assert errors["wbtest_interrupts"] == "KeyboardInterrupt: wbtest_interrupts gives up"
    assert {"readers", "views", "heads"} <= {p["name"] for p in data["plugins"]}
    csv = write_ratings(tmp_path / "r.csv", users=10, items=8, per_user=4)
    imported = run_workbench("data", "import", csv, "--name", "r", "--format", "csv", "--map", CSV_MAP, env=env)
    assert imported.returncode == 0, imported.stderr
    assert "imported 'r'" in imported.stdout
    plugin_cmd = run_workbench("no-such-command", env=env)   # the path that loads plugins for their commands
    assert "No such command" in plugin_cmd.stderr and "Traceback" not in plugin_cmd.stderr
