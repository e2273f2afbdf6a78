"""ML-1M benchmark: SASRec-style runs through the product's own runner, LOO, full ranking, seen excluded.

Usage (from the repo root; wrap in flock, the CPU is shared):
    flock /tmp/workbench-bench.lock .venv/bin/python bench/ml1m.py --experiment examples/sasrec_ce.toml
    ... --epochs 5 --set trainer.lr=3e-3 --set head.type=bce     # overrides, dotted keys
    ... --profile                                                # time forward / head loss / backward / optimizer

Imports ../shared/datasets/ml-1m/ml-1m.txt.gz (SASRec ids, titles from ml-1m_sas_items.tsv) once into
the workspace given by --workspace (default /tmp/workbench-bench-ml1m.db). Prints one line per epoch
(NDCG@10 curve) and a JSON summary (test metrics, epoch times, time to best epoch).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "ml-1m"


def ensure_dataset(ws_path: Path, name: str = "ml-1m") -> None:
    from workbench.data.importer import dataset_exists, import_path
    from workbench.store import open_workspace
    with open_workspace(ws_path, create=True) as ws:
        if name == "ml-100k" and not dataset_exists(ws, name):
            import_path(ws, DATA.parent / "ml-100k", name="ml-100k")
        if name == "ml-1m" and not dataset_exists(ws, "ml-1m"):
            s = import_path(ws, DATA / "ml-1m.txt.gz", name="ml-1m", fmt="sasrec",
                            reader_options={"item_text": str(DATA / "ml-1m_sas_items.tsv")})
            print(f"imported ml-1m: {s.as_dict()}", file=sys.stderr)


def set_key(cfg: dict, dotted: str) -> None:
    """Apply one ``KEY=VALUE`` override (VALUE parsed as JSON when it is JSON).

    ``trainer.lr=2e-3`` sets a nested key; ``views.dropout=0.1`` sets it on the first view and
    ``views.1.path=...`` on the second; ``views+={"type": "text"}`` appends a view.
    """
    key, _, value = dotted.partition("=")
    try:
        value = json.loads(value)
    except json.JSONDecodeError:
        pass
    if key == "views+":
        if not isinstance(value, dict) or "type" not in value:
            raise SystemExit(f"--set {dotted}: views+= takes a JSON object with a 'type'")
        cfg.setdefault("views", []).append(value)
        return
    parts = key.split(".")
    node = cfg
    i = 0
    while i < len(parts) - 1:
        p = parts[i]
        if p == "views":
            index = 0
            if parts[i + 1].isdigit() and i + 2 < len(parts):
                index = int(parts[i + 1])
                i += 1
            node = node["views"][index]
            i += 1
            continue
        if isinstance(node.get(p), str):      # split = "loo" -> [split] kind = "loo"
            node[p] = {"kind": node[p]}
        node = node.setdefault(p, {})
        i += 1
    node[parts[-1]] = value


def profile(ws_path: Path, raw: dict, steps: int) -> dict:
    import torch
    from workbench.engine.batches import epoch_batches
    from workbench.engine.config import parse_config
    from workbench.engine.session import RunSession
    from workbench.engine.runner import create_run
    from workbench.store import open_workspace
    ws = open_workspace(ws_path)
    run_id = create_run(ws, raw, name="profile")
    s = RunSession(ws, run_id, parse_config(json.loads(ws.db.execute(
        "SELECT config FROM runs WHERE id = ?", [run_id]).fetchone()[0])), record=False)
    m, opt = s.model, s.trainer.optimizer
    m.train()
    parts = {"batch": 0.0, "forward_views": 0.0, "head_loss": 0.0, "backward": 0.0, "optimizer": 0.0}
    by_length = s.cfg.trainer.length_buckets
    batches = epoch_batches(s.train.lengths, s.cfg.trainer.batch_size, torch.Generator().manual_seed(0),
                            by_length=by_length)     # the trainer's own batches (trimmed when bucketed)
    for i in range(steps + 1):
        t0 = time.perf_counter()
        batch = s.train.batch(batches[i % len(batches)], trim=by_length).to(s.device)
        t1 = time.perf_counter()
        with s.trainer.autocast():
            fused, aux, _ = m.states(batch)
            t2 = time.perf_counter()
            loss = m.head.loss(fused, batch, m.item_embeddings())
        t3 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t4 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        t5 = time.perf_counter()
        if i:   # first step is warm-up
            for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                parts[k] += v / steps
    t0 = time.perf_counter()
    result = s.evaluate(s.valid)
    parts["valid_eval_total"] = time.perf_counter() - t0
    parts["valid_forward_s"], parts["valid_ranking_s"] = result.forward_s, result.ranking_s
    parts["steps_per_epoch"] = s.trainer.steps_per_epoch
    parts["amp_dtype"] = str(s.trainer.amp_dtype)
    parts["est_epoch_s"] = s.trainer.steps_per_epoch * sum(parts[k] for k in
                                                          ("batch", "forward_views", "head_loss", "backward", "optimizer"))
    with ws.db.conn:
        ws.db.execute("DELETE FROM runs WHERE id = ?", [run_id])
    ws.close()
    return parts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--experiment", default=str(ROOT / "examples" / "sasrec_ce.toml"))
    ap.add_argument("--workspace", default="/tmp/workbench-bench-ml1m.db")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--dataset", default="ml-1m", choices=["ml-1m", "ml-100k"],
                    help="ml-100k: a quick sanity comparison (same engine, smaller data)")
    ap.add_argument("--set", action="append", default=[], help="dotted.key=value override (views.* = first view)")
    ap.add_argument("--profile", type=int, default=0, metavar="STEPS", help="profile STEPS training steps instead")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} not found: the benchmark needs ../shared/datasets/ml-1m")
    from workbench.engine.config import load_toml
    from workbench.engine.runner import run_experiment
    ws_path = Path(args.workspace)
    ensure_dataset(ws_path, args.dataset)
    raw = load_toml(args.experiment)
    raw["dataset"] = args.dataset
    if args.epochs is not None:
        raw.setdefault("trainer", {})["epochs"] = args.epochs
    for s in args.set:
        set_key(raw, s)
    load_before = os.getloadavg()
    if args.profile:
        out = profile(ws_path, raw, args.profile)
        out["loadavg_before"], out["loadavg_after"] = load_before, os.getloadavg()
        print(json.dumps(out, indent=2))
        return
    curve, started = [], time.perf_counter()

    def listener(e):
        if e.kind == "epoch_finished":
            m = e.data["metrics"]
            curve.append({"epoch": e.data["epoch"], "loss": round(e.data["train_loss"], 4),
                          "NDCG@10": round(m.get("NDCG@10", float("nan")), 4), "HR@10": round(m.get("HR@10", float("nan")), 4),
                          "wall_s": round(e.data["wall_time"], 1), "train_s": round(m.get("train_s", float("nan")), 1), "at_s": round(time.perf_counter() - started, 1)})
            print(json.dumps(curve[-1]), flush=True)

    run_id, test = run_experiment(ws_path, raw, listeners=[listener])
    best = max(curve, key=lambda c: c["NDCG@10"]) if curve else {}
    summary = {"run_id": run_id, "experiment": args.experiment, "overrides": args.set,
               "test": {k: round(v, 4) for k, v in test.items() if k in ("NDCG@10", "HR@10", "NDCG@20", "HR@20",
                                                                         "forward_s", "ranking_s")},
               "epochs": len(curve), "best_epoch": best.get("epoch"), "time_to_best_s": best.get("at_s"),
               "median_epoch_s": sorted(c["wall_s"] for c in curve)[len(curve) // 2] if curve else None,
               "median_train_s": sorted(c["train_s"] for c in curve)[len(curve) // 2] if curve else None,
               "total_s": round(time.perf_counter() - started, 1),
               "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
