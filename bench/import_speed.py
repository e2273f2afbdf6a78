"""Import speed and peak memory: ML-1M (SASRec file + item text) into a fresh temporary workspace.

Run from the repository root (needs ../shared/datasets):

    flock /tmp/workbench-bench.lock .venv/bin/python bench/import_speed.py [--repeat 3]

Each repetition runs in a fresh subprocess (so peak RSS is that import's own) through
the real CLI code path (`workbench data import ... --json`), and reports wall time
and peak resident memory (getrusage maxrss of the child). Also reports ML-100K and
ml-latest-small for reference. Prints a JSON summary; copy the numbers into bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from workbench.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    if e.code:
        raise
wall = time.perf_counter() - t0
print("BENCH " + json.dumps({"wall_s": wall, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_once(args: list[str], workdir: Path) -> dict:
    env = {**os.environ, "WORKBENCH_HOME": str(workdir)}
    env.pop("WORKBENCH_WORKSPACE", None)
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, env=env, cwd=workdir)
    if proc.returncode != 0:
        raise SystemExit(f"import failed:\n{proc.stdout}\n{proc.stderr}")
    bench_line = next(line for line in proc.stdout.splitlines() if line.startswith("BENCH "))
    summary = json.loads(proc.stdout[proc.stdout.index("{"):proc.stdout.index("BENCH ")])
    return {**json.loads(bench_line[6:]), "import_s": summary["seconds"], "users": summary["n_users"],
            "items": summary["n_items"], "interactions": summary["n_interactions"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    if not DATASETS.is_dir():
        raise SystemExit(f"datasets not found at {DATASETS}")
    ml1m = DATASETS / "ml-1m"
    cases = {
        "ml-1m (SASRec + item text)": [str(ml1m / "ml-1m.txt.gz"), "--item-text", str(ml1m / "ml-1m_sas_items.tsv")],
        "ml-100k": [str(DATASETS / "ml-100k")],
        "ml-latest-small": [str(DATASETS / "ml-latest-small")],
    }
    results = {}
    for label, args in cases.items():
        runs = []
        for _ in range(a.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(run_once(["-w", "bench", "data", "import", *args, "--name", "d", "--json"], Path(tmp)))
        best = min(runs, key=lambda r: r["wall_s"])
        results[label] = {"runs": runs, "best_wall_s": best["wall_s"],
                          "median_wall_s": sorted(r["wall_s"] for r in runs)[len(runs) // 2],
                          "max_rss_mb": max(r["maxrss_mb"] for r in runs),
                          "counts": (best["users"], best["items"], best["interactions"])}
        print(f"{label}: best {best['wall_s']:.2f} s, median {results[label]['median_wall_s']:.2f} s "
              f"(import only {best['import_s']:.2f} s), peak RSS {results[label]['max_rss_mb']:.0f} MB, "
              f"U/I/N {results[label]['counts']}", flush=True)
    print(json.dumps({"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                      "load_avg": os.getloadavg(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
