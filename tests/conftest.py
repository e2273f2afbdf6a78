"""Shared fixtures: an isolated workspaces home, running the real `workbench` CLI, the shared datasets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
CLI = "from workbench.cli import main; main()"


@pytest.fixture
def shared_datasets() -> Path:
    """``../shared/datasets`` next to the repo; skips the test when it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATASETS} (see the project README)")
    return SHARED_DATASETS


@pytest.fixture
def wb_home(tmp_path, monkeypatch) -> Path:
    """A fresh workspaces home (``$WORKBENCH_HOME``) for this test; no workspace preselected."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    monkeypatch.delenv("WORKBENCH_WORKSPACE", raising=False)
    monkeypatch.delenv("WORKBENCH_LOAD_PLUGINS", raising=False)
    return home


@pytest.fixture
def run_workbench(tmp_path):
    """Run the real CLI in a subprocess: ``run_workbench("workspace", "ls", input="y\\n", env={...})``.

    Uses this interpreter (or ``python=``), the current environment plus ``env``,
    and ``tmp_path`` as working directory. Returns the CompletedProcess (text).
    """

    def run(*args, input=None, env=None, python=None, check=False, timeout=120):
        full_env = {**os.environ, **(env or {})}  # a value of None removes the variable
        full_env = {k: v for k, v in full_env.items() if v is not None}
        full_env.pop("PYTHONWARNINGS", None)
        proc = subprocess.run([python or sys.executable, "-c", CLI, *map(str, args)], input=input,
                              capture_output=True, text=True, env=full_env, cwd=tmp_path, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"workbench {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    return run


# ------------------------------------------------------------- test plugins via real entry points
PLUGIN_MODULES = REPO_ROOT / "tests" / "plugins"
TEST_PLUGIN_DISTS = {
    "wbtest-good": {"wbtest_good": "wbtest_good"},
    "wbtest-broken-import": {"wbtest_broken_import": "wbtest_broken_import"},
    "wbtest-broken-hook": {"wbtest_broken_hook": "wbtest_broken_hook"},
    "wbtest-bad-spec": {"wbtest_bad_spec": "wbtest_bad_spec"},
    "wbtest-bad-signature": {"wbtest_bad_signature": "wbtest_bad_signature"},
}


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    """Install test plugins (``tests/plugins/wbtest_*.py``) through real ``workbench`` entry points.

    ``env = plugin_site({"wbtest-good": {"wbtest_good": "wbtest_good"}})`` writes a
    ``*.dist-info`` per distribution into a fresh folder, puts it and ``tests/plugins``
    on ``sys.path`` for this test, and returns ``{"PYTHONPATH": ...}`` for subprocesses.
    With no argument, every distribution in ``TEST_PLUGIN_DISTS`` is written.
    """

    def make(dists: dict[str, dict[str, str]] | None = None, version: str = "0.3.1") -> dict[str, str]:
        site = tmp_path / f"site-{len(list(tmp_path.glob('site-*')))}"
        site.mkdir()
        for dist, entries in (TEST_PLUGIN_DISTS if dists is None else dists).items():
            info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
            info.mkdir()
            (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
            lines = "".join(f"{name} = {target}\n" for name, target in entries.items())
            (info / "entry_points.txt").write_text(f"[workbench]\n{lines}")
        monkeypatch.syspath_prepend(str(PLUGIN_MODULES))
        monkeypatch.syspath_prepend(str(site))
        return {"PYTHONPATH": os.pathsep.join([str(site), str(PLUGIN_MODULES)])}

    return make
