"""RL head and transfer benchmarks (issue 16), through the product (create_run / execute_run).

    # SQN head vs the same encoder with the plain softmax_ce head, 3 seeds
    .venv/bin/python bench/rl_transfer.py rl --dataset demo --seeds 1,2,3 --epochs 30
    .venv/bin/python bench/rl_transfer.py rl --dataset ml-100k --seeds 1,2,3 --epochs 30
    # off-policy REINFORCE with top-K correction (compared with the softmax_ce rows of the same seeds)
    .venv/bin/python bench/rl_transfer.py rl --dataset demo --heads topk_reinforce --seeds 1,2,3 --epochs 30
    # ML-1M pretrain -> ml-100k fine-tune (items matched by title) at 5/20/100 % of the training users
    .venv/bin/python bench/rl_transfer.py transfer --pretrain-epochs 8 --shares 0.05,0.2,1.0 --seeds 1,2,3
    # unmatched films rebuilt from text vs left fresh, reusing the stored ML-1M run 1
    .venv/bin/python bench/rl_transfer.py transfer --source-run 1 --shares 0.05 --starts init_from,init_from_text

Every run uses the same SASRec encoder (d 64, 2 blocks, L 50, dropout 0.2); each line of
bench/results/rl_transfer.json is one run. Prints markdown tables with mean and standard deviation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "rl_transfer.json"


def encoder(max_len: int = 50) -> dict:
    return {"model": {"dim": 64, "max_len": max_len},
            "views": [{"type": "sasrec", "blocks": 2, "heads": 1, "dropout": 0.2, "positions": "from_start"}]}


def trainer(seed: int, epochs: int, patience: int) -> dict:
    return {"epochs": epochs, "batch_size": 128, "lr": 2e-3, "patience": patience, "seed": seed, "threads": 1,
            "monitor": "NDCG@10"}


def ensure(ws_path: Path, name: str) -> None:
    from workbench.store import open_workspace
    with open_workspace(ws_path, create=True) as ws:
        if list(ws.db.query("SELECT 1 FROM datasets WHERE name = ?", [name])):
            return
        if name == "demo":
            from workbench.data.demo import import_demo
            import_demo(ws)
            return
    sys.path.insert(0, str(ROOT / "bench"))
    from ablation import ensure_dataset
    ensure_dataset(ws_path, name)


def run(ws_path: Path, config: dict, label: str, extra: dict) -> dict:
    from workbench.engine.runner import run_experiment
    from workbench.store import open_workspace
    started = time.perf_counter()
    run_id, test = run_experiment(ws_path, config, name=label)
    with open_workspace(ws_path) as ws:
        n_epochs, best = ws.db.execute("SELECT count(*), (SELECT best_epoch FROM runs WHERE id = ?) FROM epoch_metrics "
                                       "WHERE run_id = ?", [run_id, run_id]).fetchone()
        report = [json.loads(r[0])["init_from"] for r in ws.db.execute(
            "SELECT data FROM run_events WHERE run_id = ? AND kind = 'log'", [run_id]) if '"init_from"' in r[0]]
    r = {"label": label, "run_id": run_id, "test": test, "epochs": n_epochs, "best_epoch": best,
         "total_s": time.perf_counter() - started, "time": time.time(), **extra}
    if report:
        r["init_from"] = {"items": report[0]["items"], "loaded": len(report[0]["loaded"]),
                          "mapped": report[0]["mapped"], "fresh": report[0]["fresh"]}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as fh:
        fh.write(json.dumps(r) + "\n")
    print(f"  {label} seed {extra.get('seed')}: " + ", ".join(f"{k} {test[k]:.4f}" for k in METRICS if k in test)
          + f" (epochs {n_epochs}, best {best}, {r['total_s']:.0f}s)", flush=True)
    return r


METRICS = ("NDCG@10", "HR@10", "purchase_NDCG@10", "purchase_HR@10", "click_NDCG@10", "click_HR@10")


def table(rows: list[dict], group_keys: tuple[str, ...]) -> None:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in group_keys), []).append(r)
    present = [m for m in METRICS if any(m in r["test"] for r in rows)]
    print("| " + " | ".join(group_keys) + " | seeds | " + " | ".join(present) + " | epochs (best) |")
    print("|" + "---|" * (len(group_keys) + 2 + len(present)))
    for key, rs in groups.items():
        cells = []
        for m in present:
            v = [r["test"][m] for r in rs if m in r["test"]]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            cells.append(f"{statistics.mean(v):.4f} ± {sd:.4f}")
        ep = ", ".join(f"{r['epochs']} ({r['best_epoch']})" for r in rs)
        print("| " + " | ".join(str(k) for k in key) + f" | {len(rs)} | " + " | ".join(cells) + f" | {ep} |")


def bench_rl(a) -> None:
    ws = Path(a.workspace)
    ensure(ws, a.dataset)
    evaluators = [{"type": "ranking", "ks": [10, 20]}]
    if a.dataset == "demo":
        evaluators.append({"type": "action_ranking", "actions": ["purchase", "click"], "ks": [10, 20]})
    rows = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        for head in a.heads.split(","):
            cfg = {"name": f"rl-{head}-{a.dataset}", "dataset": a.dataset, **encoder(a.max_len),
                   "head": {"type": head, **json.loads(a.head_options)}, "evaluators": evaluators,
                   "trainer": trainer(seed, a.epochs, a.patience)}
            label = f"rl {head} {a.dataset}" + (f" {a.head_options}" if a.head_options != "{}" else "")
            rows.append(run(ws, cfg, label, {"head": head + (f" {a.head_options}" if a.head_options != "{}" else ""),
                                             "dataset": a.dataset, "seed": seed}))
    table(rows, ("dataset", "head"))


def bench_transfer(a) -> None:
    ws = Path(a.workspace)
    ensure(ws, "ml-1m")
    ensure(ws, "ml-100k")
    base = {**encoder(a.max_len), "head": {"type": "softmax_ce"}, "evaluators": [{"type": "ranking", "ks": [10, 20]}]}
    if a.source_run:
        source = a.source_run
    else:
        cfg = {"name": "transfer-pretrain-ml-1m", "dataset": "ml-1m", **base,
               "trainer": trainer(0, a.pretrain_epochs, 0)}
        source = run(ws, cfg, "pretrain ml-1m", {"dataset": "ml-1m", "seed": 0, "share": 1.0, "start": "pretrain"})[
            "run_id"]
    rows = []
    for seed in [int(s) for s in a.seeds.split(",")]:          # seeds outermost: every share gets seed 1 first
        for share in [float(s) for s in a.shares.split(",")]:
            for start in a.starts.split(","):
                cfg = {"name": f"transfer-{start}-{share}", "dataset": "ml-100k", **base,
                       "split": {"kind": "loo", "train_users": share, "train_users_seed": seed},
                       "trainer": trainer(seed, a.epochs, a.patience)}
                if start in ("init_from", "init_from_text"):     # unmatched films: fresh rows / rebuilt from text
                    cfg["init_from"] = {"run": source, "items": "title", "neighbours": a.neighbours,
                                        "unmatched": "text" if start == "init_from_text" else "fresh"}
                label = f"transfer {start} {share}" + (f" k{a.neighbours}" if start == "init_from_text" else "")
                rows.append(run(ws, cfg, label, {"start": start, "share": share, "seed": seed, "source_run": source,
                                                 **({"neighbours": a.neighbours} if start == "init_from_text" else {})}))
    table(rows, ("share", "start"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    for name in ("rl", "transfer"):
        s = sub.add_parser(name)
        s.add_argument("--workspace", default=str(ROOT / "workspaces" / f"bench-{name}.db"))
        s.add_argument("--seeds", default="1,2,3")
        s.add_argument("--epochs", type=int, default=30)
        s.add_argument("--patience", type=int, default=5)
        s.add_argument("--max-len", type=int, default=50)
    sub.choices["rl"].add_argument("--dataset", default="demo", choices=["demo", "ml-100k"])
    sub.choices["rl"].add_argument("--heads", default="softmax_ce,sqn", help="comma-separated heads, e.g. topk_reinforce")
    sub.choices["rl"].add_argument("--head-options", default="{}", help='JSON options of every head, e.g. {"top_k": 1}')
    t = sub.choices["transfer"]
    t.add_argument("--pretrain-epochs", type=int, default=8)
    t.add_argument("--shares", default="0.05,0.2,1.0")
    t.add_argument("--source-run", type=int, default=0, help="reuse a stored ML-1M run instead of pretraining")
    t.add_argument("--neighbours", type=int, default=5, help="init_from_text: init_from.neighbours")
    t.add_argument("--starts", default="scratch,init_from",
                   help="comma-separated: scratch, init_from (unmatched films fresh), init_from_text (rebuilt from text)")
    a = p.parse_args()
    (bench_rl if a.what == "rl" else bench_transfer)(a)


if __name__ == "__main__":
    main()
