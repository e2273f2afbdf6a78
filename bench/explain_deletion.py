"""Faithfulness of history attributions: a deletion curve over ml-100k users.

For each sampled test user (history = every event before their test event) the explained item is
the model's top recommendation. Each attribution method orders the history's events (largest
attribution first); removing the first k events (k = 1, 2, 3, 5, 10) must lower the item's score and
rank more than removing k random events (5 draws per user) if the attributions are faithful.
"recent" (remove the latest events first) is a second reference that needs no explanation at all.

    .venv/bin/python bench/explain_deletion.py                       # trains a SASRec on ml-100k first
    .venv/bin/python bench/explain_deletion.py --workspace W --run R # or explains a stored run

Prints a table, writes bench/results/explain_deletion.json and bench/results/explain_deletion.svg.
Runs through the product's own engine (workbench.engine.explain), nothing re-implemented here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
RESULTS = Path(__file__).resolve().parent / "results"
KS = [1, 2, 3, 5, 10]
METHODS = ["gradient_x_input", "integrated_gradients", "occlusion"]
REFERENCES = ["recent", "random"]

SASREC = {"name": "explain-bench-sasrec", "dataset": "ml-100k", "model": {"dim": 64, "max_len": 50},
          "views": [{"type": "sasrec", "blocks": 2, "heads": 1, "dropout": 0.2}], "fusion": {"type": "identity"},
          "head": {"type": "softmax_ce"}, "evaluators": [{"type": "ranking", "ks": [10], "metrics": ["HR", "NDCG"]}],
          "trainer": {"epochs": 30, "batch_size": 128, "lr": 0.002, "patience": 3, "seed": 42, "device": "auto"}}


def train_model(ws_path: Path, epochs: int) -> int:
    import subprocess

    from workbench.engine.runner import create_run, execute_run
    from workbench.store import open_workspace
    with open_workspace(ws_path, create=True) as ws:
        have = list(ws.db.query("SELECT 1 FROM datasets WHERE name = 'ml-100k'"))
    if not have:
        subprocess.run([str(Path(sys.executable).parent / "workbench"), "-w", str(ws_path), "data", "import",
                        "--name", "ml-100k", "--format", "movielens_100k", str(SHARED / "ml-100k")], check=True)
    cfg = json.loads(json.dumps(SASREC))
    cfg["trainer"]["epochs"] = epochs
    with open_workspace(ws_path) as ws:
        run_id = create_run(ws, cfg)
    metrics = execute_run(ws_path, run_id)
    print(f"trained run {run_id}: test NDCG@10 {metrics['NDCG@10']:.4f} HR@10 {metrics['HR@10']:.4f}")
    return run_id


def curves(ws_path: Path, run_id: int, users: int, seed: int) -> dict:
    import torch

    from workbench.engine.explain import Explainer, deletion_scores
    from workbench.engine.inference import Recommender
    from workbench.store import open_workspace

    with open_workspace(ws_path) as ws:
        rec = Recommender.load(ws, run_id, device="cpu")
    ex = Explainer(rec)
    split = rec.built.split
    rng = np.random.default_rng(seed)
    eligible = np.flatnonzero(split.test_pos - rec.dataset.offsets[split.test_users] > max(KS))
    chosen = np.sort(rng.choice(eligible, size=min(users, len(eligible)), replace=False))
    drops = {m: [] for m in METHODS + REFERENCES}
    ranks = {m: [] for m in METHODS + REFERENCES}
    seconds = {m: 0.0 for m in METHODS}
    for c in chosen:
        query = rec.query_user(int(split.test_users[c]), upto=int(split.test_pos[c]))
        item = ex.default_item(query)
        n_hist = len(query.items)
        base = deletion_scores(ex, query, item, np.arange(0), [0])
        full, full_rank = base["score"][0], base["rank"][0]
        assert full_rank == 1
        orders = {}
        for m in METHODS:
            t = time.perf_counter()
            a = ex.attribute(query, item, m)
            seconds[m] += time.perf_counter() - t
            offset = n_hist - len(a)
            orders[m] = offset + np.argsort(-a, kind="stable")
        orders["recent"] = np.arange(n_hist)[::-1]
        for name, order in orders.items():
            d = deletion_scores(ex, query, item, order, KS)
            drops[name].append([full - s for s in d["score"]])
            ranks[name].append(d["rank"])
        window = np.arange(n_hist - min(n_hist, rec.max_len), n_hist)
        rd, rr = [], []
        for _ in range(5):
            d = deletion_scores(ex, query, item, rng.permutation(window), KS)
            rd.append([full - s for s in d["score"]])
            rr.append(d["rank"])
        drops["random"].append(np.mean(rd, axis=0).tolist())
        ranks["random"].append(np.mean(rr, axis=0).tolist())
    out = {"run_id": run_id, "users": int(len(chosen)), "ks": KS, "torch": torch.__version__,
           "attribution_seconds_per_user": {m: seconds[m] / max(1, len(chosen)) for m in METHODS},
           "mean_score_drop": {}, "mean_rank": {}, "share_out_of_top10": {}, "aopc": {}}
    for name in METHODS + REFERENCES:
        d, r = np.asarray(drops[name]), np.asarray(ranks[name], dtype=float)
        out["mean_score_drop"][name] = d.mean(0).tolist()
        out["mean_rank"][name] = r.mean(0).tolist()
        out["share_out_of_top10"][name] = (r > 10).mean(0).tolist()
        out["aopc"][name] = float(d.mean())            # area over the perturbation curve, mean over the ks
    out["score_drop_sem"] = {n: (np.asarray(drops[n]).std(0, ddof=1) / np.sqrt(len(drops[n]))).tolist()
                             for n in METHODS + REFERENCES}
    return out


def svg(result: dict, path: Path) -> None:
    """Two line charts (mean score drop, mean rank vs k) as a plain SVG file."""
    colours = {"gradient_x_input": "#1f77b4", "integrated_gradients": "#2ca02c", "occlusion": "#d62728",
               "recent": "#9467bd", "random": "#7f7f7f"}
    W, H, pad = 380, 260, 48
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + 60}" font-family="sans-serif" '
             'font-size="11">']
    for p, (key, title) in enumerate((("mean_score_drop", "mean score drop of the explained item"),
                                      ("mean_rank", "mean rank of the explained item"))):
        x0 = p * W
        series = result[key]
        ys = [v for s in series.values() for v in s]
        lo, hi = min(0.0, min(ys)), max(ys) * 1.05 or 1.0
        ks = result["ks"]

        def px(k, x0=x0, ks=ks):
            return x0 + pad + (k - ks[0]) / (ks[-1] - ks[0]) * (W - 2 * pad)

        def py(v, lo=lo, hi=hi):
            return H - pad + 20 - (v - lo) / (hi - lo) * (H - 2 * pad)

        parts.append(f'<text x="{x0 + W / 2}" y="16" text-anchor="middle">{title}</text>')
        parts.append(f'<line x1="{x0 + pad}" y1="{py(lo)}" x2="{x0 + W - pad}" y2="{py(lo)}" stroke="black"/>')
        parts.append(f'<line x1="{x0 + pad}" y1="{py(lo)}" x2="{x0 + pad}" y2="{py(hi)}" stroke="black"/>')
        for k in ks:
            parts.append(f'<text x="{px(k)}" y="{py(lo) + 14}" text-anchor="middle">{k}</text>')
        for frac in (0.0, 0.5, 1.0):
            v = lo + frac * (hi - lo)
            parts.append(f'<text x="{x0 + pad - 4}" y="{py(v) + 4}" text-anchor="end">{v:.2f}</text>')
        parts.append(f'<text x="{x0 + W / 2}" y="{py(lo) + 28}" text-anchor="middle">events removed (k)</text>')
        for name, values in series.items():
            pts = " ".join(f"{px(k):.1f},{py(v):.1f}" for k, v in zip(ks, values))
            dash = ' stroke-dasharray="4,3"' if name in REFERENCES else ""
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{colours[name]}" stroke-width="2"{dash}/>')
    for i, name in enumerate(METHODS + REFERENCES):
        x = 20 + i * 150
        parts.append(f'<line x1="{x}" y1="{H + 40}" x2="{x + 20}" y2="{H + 40}" stroke="{colours[name]}" '
                     'stroke-width="2"/>')
        parts.append(f'<text x="{x + 24}" y="{H + 44}">{name}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, default=Path("/tmp/workbench-bench/explain.db"))
    ap.add_argument("--run", type=int, default=None, help="explain this stored run (default: train one)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    a.workspace.parent.mkdir(parents=True, exist_ok=True)
    print(f"load before: {os.getloadavg()}")
    run_id = a.run if a.run is not None else train_model(a.workspace, a.epochs)
    started = time.perf_counter()
    result = curves(a.workspace, run_id, a.users, a.seed)
    result["curve_seconds"] = time.perf_counter() - started
    result["load_after"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "explain_deletion.json").write_text(json.dumps(result, indent=2) + "\n")
    svg(result, RESULTS / "explain_deletion.svg")
    print(f"{result['users']} users, curves in {result['curve_seconds']:.0f} s, load after {result['load_after']}")
    print("method                 " + "  ".join(f"drop@{k:<3}" for k in KS) + "  " +
          "  ".join(f"rank@{k:<3}" for k in KS) + "  AOPC")
    for name in METHODS + REFERENCES:
        print(f"{name:<22} " + "  ".join(f"{v:8.3f}" for v in result["mean_score_drop"][name]) + "  " +
              "  ".join(f"{v:8.1f}" for v in result["mean_rank"][name]) + f"  {result['aopc'][name]:.3f}")


if __name__ == "__main__":
    main()
