"""1 process vs N torchrun ranks on the same experiment and global batch: test metrics and epoch times.

Usage (repo root; the CPU is shared, so wrap it in flock):
    flock /tmp/workbench-bench.lock .venv/bin/python bench/ddp_equivalence.py \
        --experiment bench/ddp_ml100k.toml --seeds 42 43 --nproc 1 2

Imports ../shared/datasets/ml-100k once into --workspace, then for every seed and rank count runs
``workbench run EXP --nproc N`` (trainer.seed set to the seed) through the CLI, as a user would, and prints
a Markdown table: test HR@10 / NDCG@10, validation NDCG@10 at the last epoch, mean epoch training
time (``train_s``), wall time of the command. Seeds give the noise: compare the rank counts' gap
with the seeds' spread.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from workbench.cli import main; main()"]


def cli(ws: Path, *args) -> subprocess.CompletedProcess:
    proc = subprocess.run([*CLI, "--workspace", str(ws), *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"workbench {' '.join(map(str, args))} failed:\n{proc.stderr[-3000:]}")
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", type=Path, default=ROOT / "bench" / "ddp_ml100k.toml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43])
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "ml-100k")
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/workbench-bench-ddp.db"))
    args = parser.parse_args()
    if not args.workspace.exists():
        cli(args.workspace, "data", "import", args.data, "--name", "ml-100k")
    base = tomllib.loads(args.experiment.read_text())
    rows = []
    for seed in args.seeds:
        for n in args.nproc:
            exp = args.workspace.parent / f"ddp-bench-seed{seed}.toml"
            cfg = {**base, "trainer": {**base["trainer"], "seed": seed}}
            exp.write_text(_toml(cfg))
            t0 = time.perf_counter()
            out = json.loads(cli(args.workspace, "run", exp, "--nproc", n, "--json").stdout)
            wall = time.perf_counter() - t0
            db = sqlite3.connect(args.workspace)
            epochs = [json.loads(m) for (m,) in db.execute(
                "SELECT metrics FROM epoch_metrics WHERE run_id = ? ORDER BY epoch", [out["run_id"]])]
            db.close()
            rows.append({"seed": seed, "nproc": n, "run_id": out["run_id"], "test": out["test_metrics"],
                         "valid_ndcg10_last": epochs[-1].get("NDCG@10"), "wall_s": wall,
                         "train_s_mean": sum(e["train_s"] for e in epochs) / len(epochs)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print("| seed | ranks | test HR@10 | test NDCG@10 | valid NDCG@10 (last epoch) | epoch train s (mean) | command wall s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {r['nproc']} | {r['test']['HR@10']:.4f} | {r['test']['NDCG@10']:.4f} | "
              f"{r['valid_ndcg10_last']:.4f} | {r['train_s_mean']:.2f} | {r['wall_s']:.0f} |")
    return 0


def _toml(cfg: dict) -> str:
    """The experiment back as TOML (tables and arrays of tables of plain values)."""
    out, tables = [], []
    for k, v in cfg.items():
        if isinstance(v, dict):
            tables.append((k, v, False))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            tables.extend((k, item, True) for item in v)
        else:
            out.append(f"{k} = {json.dumps(v)}")
    for name, table, array in tables:
        out.append(f"[[{name}]]" if array else f"[{name}]")
        out.extend(f"{k} = {json.dumps(v)}" for k, v in table.items())
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
