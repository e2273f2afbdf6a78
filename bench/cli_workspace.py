"""CLI start-up and workspace copy speed.

Run from the repository root (the copy cases need ../shared/datasets):

    flock /tmp/workbench-bench.lock .venv/bin/python bench/cli_workspace.py [--repeat 5]

Every measurement is one fresh subprocess running the real CLI (`python -c "from
workbench.cli import main; main()" ...`), timed from the parent (so Python's own
start-up is included, as a user experiences it):

- `workbench --help`, `workbench plugins list --json`, `workbench workspace ls --json`
  (a home with 3 workspaces);
- `workbench workspace export` and `workbench workspace import` of a workspace
  holding MovieLens-1M (999,611 interactions, imported once with `workbench data import`
  before timing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
CLI = "from workbench.cli import main; main()"


def run(args: list[str], env: dict, cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CLI, *args], env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"workbench {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def summary(times: list[float]) -> dict:
    return {"best_s": round(min(times), 3), "median_s": round(statistics.median(times), 3), "n": len(times)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        home = tmp / "home"
        env = {**os.environ, "WORKBENCH_HOME": str(home)}
        env.pop("WORKBENCH_WORKSPACE", None)
        for name in ("a", "b", "c"):
            run(["workspace", "new", name], env, tmp)
        for label, args in {"workbench --help": ["--help"], "plugins list --json": ["plugins", "list", "--json"],
                            "workspace ls --json": ["workspace", "ls", "--json"]}.items():
            results[label] = summary([run(args, env, tmp) for _ in range(a.repeat)])
            print(label, results[label], flush=True)

        if DATASETS.is_dir():
            ml1m = DATASETS / "ml-1m" / "ml-1m.txt.gz"
            run(["-w", "big", "data", "import", str(ml1m), "--name", "ml1m"], env, tmp)
            size_mb = (home / "big.db").stat().st_size / 2**20
            exports, imports = [], []
            for i in range(a.repeat):
                exports.append(run(["workspace", "export", "big", str(tmp / f"out{i}.db")], env, tmp))
                imports.append(run(["workspace", "import", str(tmp / f"out{i}.db"), "--name", f"copy{i}"], env, tmp))
            results["workspace export (ML-1M workspace)"] = {**summary(exports), "db_mb": round(size_mb, 1)}
            results["workspace import (ML-1M workspace)"] = summary(imports)
            print("export", results["workspace export (ML-1M workspace)"], flush=True)
            print("import", results["workspace import (ML-1M workspace)"], flush=True)
        else:
            print(f"skipping the copy cases: no datasets at {DATASETS}", flush=True)
    print(json.dumps({"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                      "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
