"""`workbench plugins list|info|install|uninstall` through the real CLI, the pip constraints rule,
and the hook documentation meta-test."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from workbench import hookspecs

REPO = Path(__file__).resolve().parents[1]


def plugins_json(run_workbench, *args, env=None) -> dict:
    proc = run_workbench("plugins", *args, "--json", env=env, check=True)
    return json.loads(proc.stdout)


def test_list_shows_every_plugin_and_load_errors_by_name(plugin_site, run_workbench):
    env = plugin_site()
    data = plugins_json(run_workbench, "list", env=env)
    rows = {p["name"]: p for p in data["plugins"]}
    for builtin in ("readers", "views", "fusions", "heads", "evaluators"):
        assert rows[builtin]["builtin"] is True and rows[builtin]["package"] == "seqrec-workbench"
    good = rows["wbtest_good"]
    assert (good["package"], good["version"], good["builtin"]) == ("wbtest-good", "0.3.1", False)
    # wbtest_bad_spec (loaded first, by name) took the evaluator name wbtest_good also registers
    assert good["kinds"] == ["fusion", "head", "reader", "view"]
    errors = {e["plugin"]: e for e in data["errors"]}
    assert "evaluator 'wbtest_hit' already registered by wbtest_bad_spec" in errors["wbtest_good"]["error"]
    assert "wbtest_dependency_that_is_not_installed" in errors["wbtest_broken_import"]["error"]
    assert errors["wbtest_broken_import"]["package"] == "wbtest-broken-import"
    assert "evaluator table is corrupt" in errors["wbtest_broken_hook"]["error"]

    human = run_workbench("plugins", "list", env=env, check=True).stdout
    assert re.search(r"^wbtest_good\s+fusion,head,reader,view\s+wbtest-good\s+0\.3\.1\s+no$", human, re.M)
    assert re.search(r"^evaluators\s+evaluator\s+seqrec-workbench\s+\S+\s+yes$", human, re.M)
    failed = human.split("Plugins that failed to load (skipped):")[1]
    assert "wbtest_broken_import (wbtest-broken-import): ModuleNotFoundError" in failed


def test_load_plugins_env_applies_to_the_cli(plugin_site, run_workbench):
    env = {**plugin_site(), "WORKBENCH_LOAD_PLUGINS": "wbtest_good"}
    data = plugins_json(run_workbench, "list", env=env)
    assert [p["name"] for p in data["plugins"]] == ["wbtest_good"] and data["errors"] == []


def test_info_by_plugin_package_and_provided_name(plugin_site, run_workbench):
    env = plugin_site({"wbtest-good": {"wbtest_good": "wbtest_good"}})
    by_plugin = plugins_json(run_workbench, "info", "wbtest_good", env=env)["plugins"]
    assert {(s["kind"], s["name"]) for s in by_plugin[0]["specs"]} == {
        ("reader", "wbtest_lines"), ("evaluator", "wbtest_hit"), ("view", "wbtest_mean"),
        ("fusion", "wbtest_average"), ("head", "wbtest_dot")}
    view = next(s for s in by_plugin[0]["specs"] if s["kind"] == "view")
    assert view["factory"] == "wbtest_good_impl:CumulativeMeanView"
    assert view["options"] == [{"name": "scale", "type": "float", "default": 1.0, "required": False,
                                "help": "multiplies the item embeddings", "min": 0.0}]
    reader = next(s for s in by_plugin[0]["specs"] if s["kind"] == "reader")
    assert reader["factory"] == "wbtest_good:UserItemLinesReader" and reader["options"] == []

    assert plugins_json(run_workbench, "info", "wbtest-good", env=env)["plugins"] == by_plugin
    (one,) = plugins_json(run_workbench, "info", "evaluator:wbtest_hit", env=env)["plugins"]
    assert [s["name"] for s in one["specs"]] == ["wbtest_hit"] and one["name"] == "wbtest_good"

    human = run_workbench("plugins", "info", "wbtest_mean", env=env, check=True).stdout
    assert "view wbtest_mean: running mean of item embeddings" in human
    assert re.search(r"scale\s+float\s+multiplies the item embeddings\s+\[min 0\.0; default 1\.0\]", human)

    missing = run_workbench("plugins", "info", "nope", env=env)
    assert missing.returncode != 0 and "no plugin, package or plugin-provided name 'nope'" in missing.stderr


def test_info_reports_a_broken_plugin(plugin_site, run_workbench):
    env = plugin_site({"wbtest-broken-import": {"wbtest_broken_import": "wbtest_broken_import"}})
    data = plugins_json(run_workbench, "info", "wbtest_broken_import", env=env)
    assert data["plugins"] == [] and "ModuleNotFoundError" in data["errors"][0]["error"]


def test_uninstall_refuses_builtins_and_unknown_names(run_workbench):
    builtin = run_workbench("plugins", "uninstall", "views", "--yes")
    assert builtin.returncode != 0 and "built into Workbench" in builtin.stderr
    unknown = run_workbench("plugins", "uninstall", "no-such-plugin", "--yes")
    assert unknown.returncode != 0 and "no installed plugin or plugin package named 'no-such-plugin'" in unknown.stderr


# ------------------------------------------------------------------ the constraints rule
def test_constraints_rule(tmp_path, monkeypatch):
    import importlib.metadata as md

    from workbench.cli.plugins_cmd import ENV_CONSTRAINTS, constraint_args

    torch_version = md.version("torch")
    mine = tmp_path / "mine.txt"
    mine.write_text("numpy<3\n")

    monkeypatch.setenv(ENV_CONSTRAINTS, str(mine))
    args, notes = constraint_args(tmp_path)
    assert args[:2] == ["-c", str(mine)] and len(args) == 4  # plus the installed-torch pin
    assert Path(args[3]).read_text() == f"torch=={torch_version}\n"

    monkeypatch.setenv(ENV_CONSTRAINTS, "")  # set but empty: no constraints file, torch still pinned
    args, _ = constraint_args(tmp_path)
    assert len(args) == 2 and Path(args[1]).read_text() == f"torch=={torch_version}\n"
    assert constraint_args(tmp_path, pin_torch=False)[0] == []

    monkeypatch.delenv(ENV_CONSTRAINTS)  # this checkout is an editable install with constraints-cpu.txt
    args, notes = constraint_args(tmp_path, pin_torch=False)
    repo_file = REPO / "constraints-cpu.txt"
    pinned = re.search(r"^torch==(\S+)", repo_file.read_text(), re.M).group(1)
    if pinned == torch_version:
        assert args == ["-c", str(repo_file)]
    else:  # someone's own torch build: the CPU pin must not be forced on it
        assert args == [] and "not using" in notes[0]

    monkeypatch.setenv(ENV_CONSTRAINTS, str(tmp_path / "missing.txt"))
    with pytest.raises(SystemExit):
        constraint_args(tmp_path)


# ------------------------------------------------------------------ documentation meta-test
def hook_names() -> list[str]:
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(fn, "workbench_spec")]


def test_every_hook_is_documented_with_its_signature():
    doc = (REPO / "docs" / "plugins.md").read_text()
    names = hook_names()
    assert len(names) >= 6
    for name in names:
        signature = f"{name}{inspect.signature(getattr(hookspecs, name))}"
        assert signature in doc, f"docs/plugins.md does not show `{signature}`"
        assert f"@hookimpl\ndef {signature}:" in doc, f"docs/plugins.md has no example implementing {name}"


def test_every_hook_has_a_test():
    sources = "\n".join(p.read_text() for p in (REPO / "tests").rglob("test_*.py"))
    for name in hook_names():
        assert re.search(rf"^def test_hook_{name}\(", sources, re.M), f"no test_hook_{name} in tests/"


def test_plugin_docs_examples_are_valid_python():
    doc = (REPO / "docs" / "plugins.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert len(blocks) >= 6
    for i, block in enumerate(blocks):
        compile(block, f"docs/plugins.md python block {i + 1}", "exec")
