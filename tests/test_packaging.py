"""Packaging: every package folder ships, every built-in entry point loads, the CLI starts light."""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGE_DIRS = PYPROJECT["tool"]["setuptools"]["package-dir"]  # import name -> folder
HEAVY = ("torch", "torch_geometric", "sentence_transformers", "textual", "textual_plotext", "plotext",
         "transformers", "scipy")


def folder_to_package(folder: Path) -> str:
    rel = folder.relative_to(REPO)
    for package, root in PACKAGE_DIRS.items():
        if rel.parts[0] == root:
            return ".".join([package, *rel.parts[1:]])
    raise AssertionError(f"{rel} is not under a package-dir root {PACKAGE_DIRS}")


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = set()
    for root in PACKAGE_DIRS.values():
        for init in (REPO / root).rglob("__init__.py"):
            folder = init.parent
            rel = folder.relative_to(REPO)
            if rel.parts[:2] == ("plugins", "examples") or "__pycache__" in rel.parts:
                continue  # example third-party packages have their own pyproject
            found.add(folder_to_package(folder))
    missing = sorted(found - listed)
    assert not missing, f"package folders missing from pyproject's packages list: {missing}"
    stale = sorted(p for p in listed - found)
    assert not stale, f"pyproject lists packages that have no __init__.py folder: {stale}"


def test_builtin_entry_points_are_installed_and_load():
    declared = PYPROJECT["project"]["entry-points"]["workbench"]
    installed = {ep.name: ep for ep in md.entry_points(group="workbench")
                 if ep.dist is not None and ep.dist.name == "seqrec-workbench"}
    assert {n: ep.value for n, ep in installed.items()} == declared, \
        "installed entry points differ from pyproject; rerun pip install -e ."
    from workbench.plugins import Registry

    for name, ep in installed.items():
        module = ep.load()
        registry = Registry()
        registry.register_module(module, name, "seqrec-workbench", "0")
        assert registry.errors == [], [e.error for e in registry.errors]
        provided = sum(len(v) for v in registry.specs.values())
        assert provided > 0, f"built-in plugin {name} ({ep.value}) registers nothing"


def test_console_script_is_declared():
    assert PYPROJECT["project"]["scripts"]["workbench"] == "workbench.cli:main"


def _modules_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_importing_the_cli_imports_nothing_heavy():
    assert heavy_in(_modules_after("import workbench.cli")) == []


def test_help_of_every_command_imports_nothing_heavy():
    """`workbench --help` imports every command module (for their one-line help)."""
    code = ("import io, contextlib\nfrom workbench.cli import cli, COMMANDS\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    try:\n        cli.main(['--help'], prog_name='workbench')\n"
            "    except SystemExit as e:\n        assert e.code == 0, e.code\n"
            "for name in COMMANDS:\n    assert name in out.getvalue(), name\n")
    assert heavy_in(_modules_after(code)) == []


def test_listing_plugins_imports_no_implementation_module():
    """Built-in plugin modules named by entry points must stay torch-free (`name.py` vs `name_impl.py`)."""
    modules = _modules_after("from workbench.plugins import get_registry\nget_registry()")
    assert heavy_in(modules) == []
    assert sorted(m for m in modules if m.startswith("workbench_plugins") and m.endswith("_impl")) == []


def test_console_script_runs(tmp_path):
    script = Path(sys.executable).parent / "workbench"
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable}")
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "plugins" in proc.stdout and "workspace" in proc.stdout


def test_example_plugin_package_is_a_workbench_plugin():
    example = REPO / "plugins" / "examples" / "workbench-example-evaluator"
    meta = tomllib.loads((example / "pyproject.toml").read_text())
    (target,) = meta["project"]["entry-points"]["workbench"].values()
    assert (example / "src" / target / "__init__.py").is_file()
    assert not any(d.startswith("torch") for d in meta["project"]["dependencies"])
