"""Evaluation speed on real ML-1M: full ranking of all 6,040 users, stage by stage.

Loads SASRec's ``ml-1m.txt.gz`` through the product importer into a temporary
workspace, takes the leave-one-out test targets (history = every earlier event,
all of it excluded from the ranking), and times, from given user states:

    score matmul  (B, d) @ (d, N+1)
    exclusion     scatter of the seen (row, item) pairs + column 0, target restored
    rank          pessimistic target rank
    topk          torch.topk of the masked scores (K = 20)
    metrics       ranking + coverage + novelty evaluators at K = 5, 10, 20 (numpy), plus groups

User states are random (d = 64) and the item table is random (3,417 x 64): the
work done does not depend on the values. The model forward is not part of these
numbers (``evaluate()`` reports it separately as ``forward_s``); the end-to-end
``evaluate()`` line uses an encode() that only looks the states up.

    flock /tmp/workbench-bench.lock .venv/bin/python bench/eval_speed.py [--repeats 5] [--baselines]

``--baselines`` also builds the popularity and item-KNN heads on the LOO
training split and reports their full-ranking test metrics and timings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
ML1M = REPO.parent / "shared" / "datasets" / "ml-1m" / "ml-1m.txt.gz"


def load_ml1m():
    from workbench.data.dataset import leave_one_out, load_dataset
    from workbench.data.importer import import_path
    from workbench.store.workspace import open_workspace

    with tempfile.TemporaryDirectory() as tmp, open_workspace(Path(tmp) / "bench.db", create=True) as ws:
        import_path(ws, ML1M, name="ml-1m")
        ds = load_dataset(ws, "ml-1m")
    return ds, leave_one_out(ds)


def test_batches(ds, split, batch_size: int, max_len: int = 200):
    """EvalBatches of the LOO test targets; seen = the full history before the target."""
    from workbench.engine.eval_types import EvalBatch
    from workbench.model.base import SeqBatch

    out = []
    for start in range(0, len(split.test_users), batch_size):
        users = split.test_users[start:start + batch_size]
        pos = split.test_pos[start:start + batch_size]
        begin = ds.offsets[users]
        lengths = pos - begin
        rows = np.repeat(np.arange(len(users)), lengths)
        flat = np.concatenate([ds.items[b:p] for b, p in zip(begin, pos)])
        items = np.zeros((len(users), max_len), dtype=np.int64)
        for r, (b, p) in enumerate(zip(begin, pos)):
            tail = ds.items[max(b, p - max_len):p]
            items[r, max_len - len(tail):] = tail
        items_t = torch.from_numpy(items)
        batch = SeqBatch(items=items_t, targets=torch.zeros_like(items_t), users=torch.from_numpy(users))
        out.append(EvalBatch(batch, torch.from_numpy(ds.items[pos]), torch.from_numpy(rows),
                             torch.from_numpy(flat), torch.from_numpy(lengths), torch.from_numpy(users)))
    return out


def timed(fn, repeats: int) -> tuple[float, float, float, object]:
    """(median wall, min wall, min CPU) seconds of ``repeats`` calls, and the last result.

    The minimum is the run least disturbed by other processes on a shared machine. CPU time
    is this process's user + system time over all its threads: it does not grow while the
    process waits for a core, so with 2 threads the wall time on 2 idle cores is at most
    about the CPU time (and about half of it when both threads are busy)."""
    times, cpu, result = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(times), min(times), min(cpu), result


def stage_timings(batches, states, item_table, evaluators, pop, repeats: int,
                  k: int = 20) -> dict[str, list[float]]:
    """[median wall, min wall, min CPU] seconds per stage, summed over batches."""
    from workbench.engine.evaluate import compute_metrics, history_groups, subset_rankings
    from workbench.engine.ranking import count_true, exclusion_mask, mask_scores, target_ranks, top_items
    from workbench.kinds import Rankings

    total = {s: [0.0, 0.0, 0.0] for s in ("score matmul", "exclusion", "rank", "topk")}

    def add(stage, *seconds):
        for i, sec in enumerate(seconds):
            total[stage][i] += sec

    parts = []
    row = 0
    with torch.no_grad():
        for eb in batches:
            b = eb.target_items.shape[0]
            s = states[row:row + b]
            row += b
            *t, scores = timed(lambda: s @ item_table.T, repeats)
            add("score matmul", *t)

            def exclude():
                excl = exclusion_mask(b, scores.shape[1], eb.target_items, eb.seen_rows, eb.seen_items)
                return excl, scores.shape[1] - count_true(excl), mask_scores(scores, excl)

            *t, (excl, ncand, masked) = timed(exclude, repeats)
            add("exclusion", *t)
            *t, rank = timed(lambda: target_ranks(masked, eb.target_items, ncand), repeats)
            add("rank", *t)
            *t, top = timed(lambda: top_items(masked, excl, k), repeats)
            add("topk", *t)
            parts.append((rank.numpy(), top.numpy(), eb.target_items.numpy(), ncand.numpy(),
                          eb.history_length.numpy()))
    cat = [np.concatenate(p) for p in zip(*parts)]
    rankings = Rankings(cat[0], cat[1], cat[2], cat[3], pop, cat[4])

    def metrics():
        out = compute_metrics(evaluators, rankings)
        _, masks = history_groups(rankings.history_length)
        for m in masks.values():
            compute_metrics(evaluators, subset_rankings(rankings, m))
        return out

    total["metrics (+ 3 groups)"] = list(timed(metrics, repeats)[:3])
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=6040, help="users per EvalBatch (default: all at once)")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--baselines", action="store_true", help="also evaluate popularity and item-KNN heads")
    args = ap.parse_args(argv)
    if not ML1M.is_file():
        print(f"ML-1M not found at {ML1M}", file=sys.stderr)
        return 2
    from workbench.engine.evaluate import build_evaluators, evaluate

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    t = time.perf_counter()
    ds, split = load_ml1m()
    print(f"import + load + LOO split of ML-1M: {time.perf_counter() - t:.1f} s "
          f"({ds.n_users} users, {ds.n_items} items, {len(ds.items)} events)")
    n = ds.n_items
    pop = np.bincount(np.concatenate([ds.items[ds.offsets[u]:split.train_end[u]] for u in range(1, ds.n_users + 1)]),
                      minlength=n + 1).astype(np.float64)
    batches = test_batches(ds, split, args.batch_size)
    num_users = sum(len(eb.target_items) for eb in batches)
    g = torch.Generator().manual_seed(0)
    states = torch.randn(num_users, args.dim, generator=g)
    item_table = torch.randn(n + 1, args.dim, generator=g)
    evaluators = build_evaluators()   # ranking, coverage, novelty at K = 5, 10, 20

    stages = stage_timings(batches, states, item_table, evaluators, pop, args.repeats)
    print(f"\nfull ranking, {num_users} users x {n} items, d={args.dim}, batch {args.batch_size}, "
          f"{args.repeats} repeats:\n  {'stage':22s} {'median wall':>11s} {'min wall':>11s} {'min CPU':>11s}")
    for name, secs in [*stages.items(), ("sum of stages", [sum(v[i] for v in stages.values()) for i in range(3)])]:
        print(f"  {name:22s} " + " ".join(f"{x * 1000:8.1f} ms" for x in secs))

    lookup = {}

    def encode(batch):
        return states[lookup["row"]:lookup["row"] + batch.items.shape[0]]

    def score(s, batch):
        lookup["row"] += batch.items.shape[0]
        return s @ item_table.T

    def run(mode="full", sampling="uniform"):
        lookup["row"] = 0
        return evaluate(encode, score, batches, num_items=n, item_popularity=pop, evaluators=evaluators,
                        mode=mode, negative_sampling=sampling)

    for mode, sampling in (("full", "uniform"), ("sampled", "uniform"), ("sampled", "popularity")):
        med, low, cpu, res = timed(lambda: run(mode, sampling), args.repeats)
        label = mode if mode == "full" else f"sampled 100 {sampling}"
        print(f"evaluate() end to end, {label:23s}: wall median {med * 1000:7.1f} ms, min {low * 1000:7.1f} ms, "
              f"min CPU {cpu * 1000:7.1f} ms "
              f"(last run: forward {res.forward_s * 1000:.1f} ms, ranking {res.ranking_s * 1000:.1f} ms)")

    if args.baselines:
        run_baselines(ds, split, batches, pop, evaluators)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    return 0


def run_baselines(ds, split, batches, pop, evaluators) -> None:
    from workbench.engine.evaluate import evaluate
    from workbench.model.base import DataContext
    from workbench_plugins.heads.item_knn import ItemKNNOptions
    from workbench_plugins.heads.item_knn_impl import ItemKNNHead
    from workbench_plugins.heads.popularity_impl import PopularityHead

    train = [[]] + [ds.items[ds.offsets[u]:split.train_end[u]].tolist() for u in range(1, ds.n_users + 1)]
    ctx = DataContext(num_items=ds.n_items, num_users=ds.n_users, max_len=200, train_sequences=train,
                      item_popularity=torch.tensor(pop, dtype=torch.float32))
    print("\nbaselines, LOO test, full ranking, training items excluded:")
    for name, build in (("popularity", lambda: PopularityHead(None, ctx, 64)),
                        ("item_knn (cosine, 100 neighbours)", lambda: ItemKNNHead(ItemKNNOptions(), ctx, 64))):
        t = time.perf_counter()
        head = build()
        built = time.perf_counter() - t
        res = evaluate(lambda b: torch.zeros(b.items.shape[0], 1), lambda s, b: head.score(s, None, b), batches,
                       num_items=ds.n_items, item_popularity=pop, evaluators=evaluators)
        m = res.metrics
        print(f"  {name:34s} build {built:5.1f} s, score+rank+metrics {res.ranking_s:5.2f} s | "
              f"HR@10 {m['HR@10']:.4f} NDCG@10 {m['NDCG@10']:.4f} MRR@10 {m['MRR@10']:.4f} "
              f"Coverage@10 {m['Coverage@10']:.3f} PopPercentile@10 {m['PopPercentile@10']:.3f}")
        print("    NDCG@10 by history length "
              f"(short <= {res.group_bounds[0]} < medium <= {res.group_bounds[1]} < long): " +
              ", ".join(f"{g} {res.groups[g]['NDCG@10']:.4f} ({res.group_sizes[g]} users)" for g in res.groups))


if __name__ == "__main__":
    sys.exit(main())
