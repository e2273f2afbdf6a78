"""Two versions of the blocked ranking kernel side by side: same results, and CPU time per batch.

Usage (repository root; BEFORE is ``workbench/engine/block_ranking.py`` of another checkout, e.g. a
``git worktree`` at the older commit):

    .venv/bin/python bench/ranking_ab.py BEFORE [--after workbench/engine/block_ranking.py] [--cases 300] [--reps 6]
                                            [--workers 1]

1. **Same results**: ``--cases`` random cases (1-256 users, 3-20,011 items, d 4 or 64, K 1-50,
   40 % of them tie-heavy integer vectors, 0-50 seen items, block sizes 5 to 2^19, 1-3 workers,
   exclusion on or off), each ranked by both modules' ``rank_full_dot``; ranks, top-K lists and
   candidate counts must be equal. Prints the number of cases that differ.
2. **CPU time**: 4 batches of 256 users x 134,000 items (d 64, 50 seen, K 20) on one thread and one
   worker, the two versions alternating ``--reps`` times; the median thread CPU time per batch of
   each, and their ratio (thread CPU time, so a busy machine inflates both alike more than wall time).
   ``--workers N`` (N > 1): N one-core workers share each batch, as ``evaluate()`` shares them on
   N cores; then the process CPU time (all threads) and the wall time per batch are reported.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import time
from pathlib import Path


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def same_results(before, after, cases: int, seed: int) -> int:
    import torch

    rng = random.Random(seed)
    differ = 0
    for case in range(cases):
        b, n, d = rng.choice([1, 2, 7, 33, 256]), rng.choice([3, 19, 64, 65, 200, 1000, 5000, 20011]), rng.choice([4, 64])
        k, ties, seen = rng.choice([1, 5, 20, 50]), rng.random() < 0.4, rng.choice([0, 3, 50])
        g = torch.Generator().manual_seed(seed * 100_000 + case)
        if ties:
            states = torch.randint(-2, 3, (b, d), generator=g).float()
            table = torch.randint(-1, 2, (n + 1, d), generator=g).float()
        else:
            states, table = torch.randn(b, d, generator=g), torch.randn(n + 1, d, generator=g)
        targets = torch.randint(1, n + 1, (b,), generator=g)
        rows = torch.arange(b).repeat_interleave(seen)
        items = torch.randint(0, n + 1, (b * seen,), generator=g)
        block, workers, exclude = rng.choice([5, 64, 997, 4096, 1 << 19]), rng.choice([1, 2, 3]), rng.random() < 0.8
        x = before.rank_full_dot(states, table, targets, rows, items, k, exclude, before.RankBuffers(block, workers))
        y = after.rank_full_dot(states, table, targets, rows, items, k, exclude, after.RankBuffers(block, workers))
        if not all(torch.equal(getattr(x, f), getattr(y, f)) for f in ("target_rank", "topk", "num_candidates")):
            differ += 1
            print(f"  differ: users {b}, items {n}, d {d}, K {k}, ties {ties}, seen {seen}, block {block}, "
                  f"workers {workers}, exclude {exclude}")
    return differ


def yardstick_batches():
    """(item table, 4 batches of (states, targets, seen rows, seen items)): 256 users x 134,000 items,
    d 64, 50 seen items per user, always the same (seed 0)."""
    import torch

    users, items, d, seen = 256, 134_000, 64, 50
    g = torch.Generator().manual_seed(0)
    table = torch.randn(items + 1, d, generator=g)
    batches = [(torch.randn(users, d, generator=g), torch.randint(1, items + 1, (users,), generator=g),
                torch.arange(users).repeat_interleave(seen), torch.randint(1, items + 1, (users * seen,), generator=g))
               for _ in range(4)]
    return table, batches


def cpu_per_batch(modules: dict, reps: int, workers: int = 1) -> dict[str, list[float]]:
    """{version: [CPU seconds per batch, one entry per rep]}; with ``workers`` > 1 also
    {version + " wall": [wall seconds per batch, ...]}."""
    import torch

    torch.set_num_threads(workers)
    table, batches = yardstick_batches()
    buffers = {name: m.RankBuffers(workers=workers) for name, m in modules.items()}
    clock = time.thread_time if workers == 1 else time.process_time
    times: dict[str, list[float]] = {name: [] for name in modules}
    times.update({name + " wall": [] for name in modules} if workers > 1 else {})
    names = list(modules)
    for rep in range(reps):
        for name in (names if rep % 2 == 0 else names[::-1]):
            start, wall = clock(), time.perf_counter()
            for states, targets, rows, seen_items in batches:
                modules[name].rank_full_dot(states, table, targets, rows, seen_items, 20, True, buffers[name])
            times[name].append((clock() - start) / len(batches))
            if workers > 1:
                times[name + " wall"].append((time.perf_counter() - wall) / len(batches))
    for b in buffers.values():
        b.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("--after", type=Path, default=Path("workbench/engine/block_ranking.py"))
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reps", type=int, default=6, help="timing rounds (0: results only)")
    ap.add_argument("--workers", type=int, default=1, help="one-core workers sharing each timed batch")
    args = ap.parse_args()
    modules = {"before": load(args.before, "ranking_before"), "after": load(args.after, "ranking_after")}
    differ = same_results(modules["before"], modules["after"], args.cases, args.seed)
    print(f"same results: {args.cases - differ} of {args.cases} cases equal (seed {args.seed})")
    if args.reps < 1:
        return
    times = cpu_per_batch(modules, args.reps, args.workers)
    for name, t in times.items():
        what = "wall" if name.endswith("wall") else "CPU"
        print(f"{name}: {statistics.median(t) * 1e3:.1f} ms {what} per batch of 256 x 134,000 (median of {len(t)}; "
              f"min {min(t) * 1e3:.1f}; {args.workers} worker(s))")
    for suffix in ("",) + ((" wall",) if args.workers > 1 else ()):
        ratio = statistics.median(times["after" + suffix]) / statistics.median(times["before" + suffix])
        print(f"after / before{suffix or ' CPU'}: {ratio:.3f}; load {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
