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
        full_env = {**os.environ, **(env or {})}
        full_env.pop("PYTHONWARNINGS", None)
        proc = subprocess.run([python or sys.executable, "-c", CLI, *map(str, args)], input=input,
                              capture_output=True, text=True, env=full_env, cwd=tmp_path, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"workbench {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    return run
