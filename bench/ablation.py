"""Multi-view ablation: ID-only SASRec-CE vs + temporal / text / graph / VAE / best combination.

Runs every row through the product itself (import with the real reader, then
``workbench.engine.runner.run_experiment`` on the example TOMLs), and prints one
markdown row per experiment: NDCG@10, HR@10 (test, full ranking, seen items
excluded), best epoch, mean epoch time (training + validation), parameters.

    flock /tmp/workbench-bench.lock .venv/bin/python bench/ablation.py \
        --dataset ml-1m --epochs 200 --rows sasrec,temporal,text,graph,vae,best

``--epochs/--max-len/--dim/--patience`` override the TOMLs (to fit a CPU budget;
the README says which were used). Results also go to bench/results/ablation.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
ROWS = {"sasrec_ce": "sasrec_ce.toml", "sasrec": "ml1m_sasrec.toml", "temporal": "ml1m_temporal.toml", "text": "ml1m_text.toml",
        "graph": "ml1m_graph.toml", "vae": "ml1m_vae.toml", "interest": "ml1m_interest.toml",
        "best": "ml1m_best.toml"}
DATASETS = {
    "ml-1m": ["--format", "sasrec", str(SHARED / "ml-1m" / "ml-1m.txt.gz"),
              "--item-text", str(SHARED / "ml-1m" / "ml-1m_sas_items.tsv")],
    "ml-100k": ["--format", "movielens_100k", str(SHARED / "ml-100k")],
    "ml-latest-small": ["--format", "movielens_csv", str(SHARED / "ml-latest-small")],
    # ml-100k's u.data with each rating (1-5 stars) imported as the event's action type, for the
    # action view and the multi-task head (none of the shared datasets logs view/cart/purchase)
    "ml-100k-actions": ["--format", "csv", str(SHARED / "ml-100k" / "u.data"),
                        "--map", "user=0,item=1,time=3,action=2", "--delimiter", "tab", "-o", "header=false"],
}


def ensure_dataset(ws_path: Path, name: str) -> None:
    from workbench.store import open_workspace

    with open_workspace(ws_path, create=True) as ws:
        if list(ws.db.query("SELECT 1 FROM datasets WHERE name = ?", [name])):
            return
    fmt, *rest = DATASETS[name][1:]
    args = [str(Path(sys.executable).parent / "workbench"), "-w", str(ws_path), "data", "import", "--name", name,
            "--format", fmt, *rest]
    subprocess.run(args, check=True, cwd=ROOT)


def run_row(ws_path: Path, toml: Path, dataset: str, a) -> dict:
    from workbench.engine.config import load_toml
    from workbench.engine.runner import run_experiment
    from workbench.store import open_workspace

    raw = load_toml(toml)
    raw["dataset"] = dataset
    raw.setdefault("trainer", {})
    raw.setdefault("model", {})
    if a.epochs is not None:
        raw["trainer"]["epochs"] = a.epochs
    if a.patience is not None:
        raw["trainer"]["patience"] = a.patience
    if a.max_len is not None:
        raw["model"]["max_len"] = a.max_len
    if a.dim is not None:
        raw["model"]["dim"] = a.dim
    if a.threads:
        raw["trainer"]["threads"] = a.threads
    from ml1m import set_key   # bench/ is the script's folder, first on sys.path

    for item in a.set:
        set_key(raw, item)
    raw["name"] = f"{raw.get('name', toml.stem)}-{dataset}"
    started = time.perf_counter()
    run_id, test = run_experiment(ws_path, raw, name=f"ablation {toml.stem} {dataset}")
    total = time.perf_counter() - started
    with open_workspace(ws_path) as ws:
        rows = list(ws.db.query("SELECT epoch, wall_time FROM epoch_metrics WHERE run_id = ? ORDER BY epoch",
                                [run_id]))
        best = list(ws.db.query("SELECT best_epoch, device FROM runs WHERE id = ?", [run_id]))[0]
        started_ev = [json.loads(r["data"]) for r in ws.db.query(
            "SELECT data FROM run_events WHERE run_id = ? AND kind = 'run_started'", [run_id])]
    epoch_s = sum(r["wall_time"] for r in rows) / max(1, len(rows))
    return {"row": toml.stem, "dataset": dataset, "run_id": run_id, "NDCG@10": test.get("NDCG@10"),
            "HR@10": test.get("HR@10"), "overrides": a.set, "test": test,
            **{k: v for k, v in test.items() if k.startswith(("cold_", "warm_"))}, "epochs": len(rows), "best_epoch": best["best_epoch"],
            "epoch_s": epoch_s, "total_s": total, "device": best["device"],
            "params": (started_ev[0].get("num_params") if started_ev else None),
            "max_len": raw["model"].get("max_len"), "dim": raw["model"].get("dim")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="ml-1m", choices=sorted(DATASETS))
    p.add_argument("--rows", default="sasrec,temporal,text,graph,vae,best")
    p.add_argument("--workspace", default=str(ROOT / "workspaces" / "bench-ablation.db"))
    p.add_argument("--epochs", type=int)
    p.add_argument("--patience", type=int)
    p.add_argument("--max-len", type=int)
    p.add_argument("--dim", type=int)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--label", default="", help="name for the row(s) in the printed table and the json")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted override for every row, e.g. split.holdout_items=0.1 or trainer.train_windows=all")
    a = p.parse_args()
    if not SHARED.exists():
        sys.exit(f"datasets folder {SHARED} not found")
    ws_path = Path(a.workspace)
    ensure_dataset(ws_path, a.dataset)
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    print("| row | NDCG@10 | HR@10 | epochs (best) | s/epoch | params | device |")
    print("|---|---|---|---|---|---|---|")
    for key in a.rows.split(","):
        r = run_row(ws_path, ROOT / "examples" / ROWS[key], a.dataset, a)
        r["label"] = a.label or key
        results.append(r)
        print(f"| {r['label']} | {r['NDCG@10']:.4f} | {r['HR@10']:.4f} | {r['epochs']} ({r['best_epoch']}) | "
              f"{r['epoch_s']:.1f} | {r['params']} | {r['device']} |", flush=True)
        extra = {k: v for k, v in r["test"].items() if k.startswith("action_") or k.endswith(("_auc", "_f1"))}
        if extra:
            print("|   " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(extra.items())) + " |", flush=True)
        if "cold_num_users" in r:
            print(f"|   cold start: {r['cold_num_users']} users with a held-out test item | "
                  f"{r.get('cold_NDCG@10', float('nan')):.4f} | {r.get('cold_HR@10', float('nan')):.4f} | "
                  f"warm {r.get('warm_NDCG@10', float('nan')):.4f} / {r.get('warm_HR@10', float('nan')):.4f} |",
                  flush=True)
        with (out_dir / "ablation.json").open("a") as fh:
            fh.write(json.dumps({**r, "argv": sys.argv[1:], "time": time.time()}) + "\n")


if __name__ == "__main__":
    main()
