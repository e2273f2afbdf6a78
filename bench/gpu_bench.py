"""GPU benchmark, prepared to run wherever a GPU is: ML-1M epoch time, a 10M-event synthetic epoch,
1 vs N ranks (torchrun + DDP, NCCL). Everything goes through the product's CLI in subprocesses.

Usage (repo root, Workbench installed in the environment with a CUDA torch):
    python bench/gpu_bench.py                                   # everything, ranks 1 and all GPUs
    python bench/gpu_bench.py --only ml1m --nproc 1 2 4 --epochs 3
    python bench/gpu_bench.py --only synthetic --events 10000000 --users 200000 --items 400000

- **ml1m**: ``examples/sasrec_ce.toml`` (SASRec, L 200, full softmax CE, every training event a target,
  bf16 autocast) on ML-1M from ``--data`` (``ml-1m/ml-1m.txt.gz`` in the SASRec format; the repo's
  ../shared/datasets by default), ``--epochs`` epochs with validation after each.
- **synthetic**: ``workbench data generate`` (the demo generator's behaviour model at real shapes),
  imported once, then SASRec with sampled softmax (1024 negatives, logQ), L 50, batch 256.

For each (dataset, ranks): the epochs' training time (``train_s``, the first epoch includes CUDA
warm-up), validation forward/ranking time, test metrics, the wall time of the command. The workspace is kept (``--workspace``) so the imports are paid once. Writes JSON (``--out``) and
prints a Markdown table for bench/README.md. Needs no network.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from workbench.cli import main; main()"]

SYNTHETIC_EXPERIMENT = """
name = "synthetic-sampled-softmax"
[model]
dim = 64
max_len = 50
[[views]]
type = "sasrec"
blocks = 2
heads = 1
dropout = 0.2
[head]
type = "sampled_softmax"
negatives = 1024
logq = true
[[evaluators]]
type = "ranking"
ks = [10, 20]
[trainer]
batch_size = 256
lr = 1e-3
patience = 0
amp = "auto"
eval_batch_size = 1024
"""


def cli(ws: Path, *args, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*CLI, "--workspace", str(ws), *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if check and proc.returncode != 0:
        raise SystemExit(f"workbench {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def has_dataset(ws: Path, name: str) -> bool:
    if not ws.exists():
        return False
    out = cli(ws, "data", "ls", "--json", check=False)
    return out.returncode == 0 and any(d.get("name") == name for d in json.loads(out.stdout or "[]"))


def environment() -> dict:
    import torch
    env = {"torch": torch.__version__, "cuda": torch.version.cuda, "gpus": torch.cuda.device_count(),
           "bf16": bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported()), "cpus": os.cpu_count()}
    env["gpu_names"] = [torch.cuda.get_device_name(i) for i in range(env["gpus"])]
    return env


def epochs_of(ws: Path, run_id: int) -> list[dict]:
    import sqlite3
    db = sqlite3.connect(ws)
    try:
        rows = db.execute("SELECT epoch, train_loss, metrics, wall_time FROM epoch_metrics WHERE run_id = ? "
                          "ORDER BY epoch", [run_id]).fetchall()
    finally:
        db.close()
    epochs = []
    for epoch, loss, metrics, wall in rows:
        m = json.loads(metrics)
        epochs.append({"epoch": epoch, "train_loss": loss, "train_s": m.get("train_s"), "valid_forward_s":
                       m.get("forward_s"), "valid_ranking_s": m.get("ranking_s"), "wall_s": wall,
                       "NDCG@10": m.get("NDCG@10")})
    return epochs


def one_run(ws: Path, experiment: Path, dataset: str, nproc: int, epochs: int, device: str) -> dict:
    started = time.perf_counter()
    out = cli(ws, "run", experiment, "--dataset", dataset, "--epochs", epochs, "--nproc", nproc, "--device", device,
              "--json")
    wall = time.perf_counter() - started
    result = json.loads(out.stdout)
    return {"dataset": dataset, "nproc": nproc, "run_id": result["run_id"], "command_wall_s": wall,
            "epochs": epochs_of(ws, result["run_id"]), "test": result["test_metrics"]}


def ensure_ml1m(ws: Path, data: Path) -> None:
    if has_dataset(ws, "ml-1m"):
        return
    source = data / "ml-1m" / "ml-1m.txt.gz"
    if not source.exists():
        raise SystemExit(f"{source} not found (pass --data DIR holding ml-1m/ml-1m.txt.gz)")
    started = time.perf_counter()
    cli(ws, "data", "import", source, "--name", "ml-1m", "--format", "sasrec")
    print(f"imported ml-1m in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def ensure_synthetic(ws: Path, name: str, events: int, users: int, items: int, folder: Path) -> dict:
    if has_dataset(ws, name):
        return {}
    csv = folder / f"{name}.csv"
    t0 = time.perf_counter()
    if not csv.exists():
        cli(ws, "data", "generate", "--events", events, "--users", users, "--items", items, "--out", csv)
    t1 = time.perf_counter()
    cli(ws, "data", "import", csv, "--name", name)
    t2 = time.perf_counter()
    return {"generate_s": t1 - t0, "import_s": t2 - t1}


def table(results: list[dict]) -> str:
    lines = ["| data | ranks | epoch train s (first / rest mean) | valid forward + ranking s | test NDCG@10 | "
             "command wall s |", "|---|---|---|---|---|---|"]
    for r in results:
        train = [e["train_s"] for e in r["epochs"] if e["train_s"] is not None]
        rest = f"{sum(train[1:]) / len(train[1:]):.1f}" if len(train) > 1 else "-"
        last = r["epochs"][-1] if r["epochs"] else {}
        valid = (last.get("valid_forward_s") or 0) + (last.get("valid_ranking_s") or 0)
        lines.append(f"| {r['dataset']} | {r['nproc']} | {train[0]:.1f} / {rest} | {valid:.1f} | "
                     f"{r['test'].get('NDCG@10', float('nan')):.4f} | {r['command_wall_s']:.0f} |"
                     if train else f"| {r['dataset']} | {r['nproc']} | - | - | - | {r['command_wall_s']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["ml1m", "synthetic"], default=None)
    parser.add_argument("--nproc", type=int, nargs="+", default=None, help="rank counts (default: 1 and every GPU)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/workbench-gpu-bench.db"))
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=400_000)
    parser.add_argument("--out", type=Path, default=Path("gpu_bench.json"))
    parser.add_argument("--device", default="cuda", help="cuda (default); cpu only to smoke-test this script")
    args = parser.parse_args()
    env = environment()
    if not env["gpus"] and args.device != "cpu":
        raise SystemExit("no CUDA device visible to this torch: this benchmark is for GPU hosts")
    ranks = args.nproc or sorted({1, max(1, env["gpus"])})
    report: dict = {"environment": env, "runs": [], "imports": {}}
    print(json.dumps(env), file=sys.stderr)
    if args.only in (None, "ml1m"):
        ensure_ml1m(args.workspace, args.data)
        for n in ranks:
            report["runs"].append(one_run(args.workspace, ROOT / "examples" / "sasrec_ce.toml", "ml-1m", n, args.epochs,
                                          args.device))
            print(table(report["runs"][-1:]), file=sys.stderr)
    if args.only in (None, "synthetic"):
        name = f"synthetic-{args.events}"
        report["imports"][name] = ensure_synthetic(args.workspace, name, args.events, args.users, args.items,
                                                   args.workspace.parent)
        exp = args.workspace.parent / "gpu_bench_synthetic.toml"
        exp.write_text(SYNTHETIC_EXPERIMENT)
        for n in ranks:
            report["runs"].append(one_run(args.workspace, exp, name, n, max(1, min(args.epochs, 2)), args.device))
            print(table(report["runs"][-1:]), file=sys.stderr)
    args.out.write_text(json.dumps(report, indent=2))
    print(table(report["runs"]))
    print(f"\n(JSON: {args.out}; {json.dumps(env)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
