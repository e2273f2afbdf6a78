"""Where one batch's CPU time goes in the blocked ranking kernel, section by section.

Usage (repository root):

    .venv/bin/python bench/ranking_breakdown.py [--reps 3]

Ranks 4 batches of 256 users x 134,000 items (d 64, 50 seen items per user, K 20; the batches of
``bench/ranking_ab.py``) on one thread and one worker with a copy of
``workbench/engine/block_ranking.py`` whose ``_scan`` reads the thread's CPU clock between its
sections, and prints the CPU milliseconds per batch of each: the block product, the targets'
and excluded items' writes, the rank count (comparison and sum), the chunk maxima, the bound,
the candidate chunks copied out (hits), and their sift and merge into the top-K lists; "pre" is
the rest (the batch's set-up and final merge, the first block's set-up). The copy is made by
inserting the clock reads at fixed lines of the kernel: if the kernel changes so that a line
is missing, the script stops and says which.

``--alternatives`` then times, on one 256 x 2048 block of the same shape (one thread, best of 5
runs of 300), the block product and the kernel's per-block passes beside the ways of doing them that
were tried and not used: ``torch.topk`` instead of chunk maxima, the comparison written as bf16,
uint8 or bool instead of float32, ``torch.mv`` with ones instead of the sum.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

KERNEL = Path(__file__).resolve().parents[1] / "workbench" / "engine" / "block_ranking.py"

CLOCK = '''
SECTIONS: dict[str, float] = {}
_last = [0.0]


def _clock(name):
    now = time.thread_time()
    SECTIONS[name] = SECTIONS.get(name, 0.0) + now - _last[0]
    _last[0] = now

'''

MARKS = [
    ("            block = fill_block(block, lo, hi)\n",
     "            _clock('pre'); block = fill_block(block, lo, hi); _clock('product')\n"),
    ("            torch.ge(block, job.t, out=cmp)", "            _clock('targets, excluded'); torch.ge(block, job.t, out=cmp)"),
    ("            torch.sum(cmp, dim=1, out=job.counts[b])\n",
     "            torch.sum(cmp, dim=1, out=job.counts[b]); _clock('rank count')\n"),
    ("            chunks, maxima = _chunk_maxima(block)\n", "            chunks, maxima = _chunk_maxima(block); _clock('chunk maxima')\n"),
    ("            reach = inclusive or shared is not None\n", "            _clock('bound'); reach = inclusive or shared is not None\n"),
    ("            if pending and (pending_count >= merge_at or inclusive):\n",
     "            _clock('hits')\n            if pending and (pending_count >= merge_at or inclusive):\n"),
    ("                pending, pending_count = [], 0\n", "                pending, pending_count = [], 0\n            _clock('sift and merge')\n"),
]


def instrumented():
    src = KERNEL.read_text()
    for line, marked in MARKS:
        if line not in src:
            sys.exit(f"ranking_breakdown.py: {KERNEL} no longer has the line {line.strip()!r}; update MARKS")
        src = src.replace(line, marked, 1)
    src = src.replace("import torch\n", "import torch\n" + CLOCK, 1)
    spec = importlib.util.spec_from_loader("block_ranking_clocked", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(src, str(KERNEL), "exec"), module.__dict__)
    return module


def alternatives() -> None:
    """Microseconds per call of the kernel's per-block passes and the alternatives that were tried."""
    import torch

    rows, width, d = 256, 2048, 64
    g = torch.Generator().manual_seed(0)
    states, items = torch.randn(rows, d, generator=g), torch.randn(width, d, generator=g)
    block = torch.mm(states, items.T)
    t = block[:, :1] + 0.5
    as_float, as_bf16 = torch.empty(rows, width), torch.empty(rows, width, dtype=torch.bfloat16)
    as_uint8, counts, ones = torch.empty(rows, width, dtype=torch.uint8), torch.empty(rows), torch.ones(width)
    cases = [
        ("block product (torch.mm)", lambda: torch.mm(states, items.T, out=block)),
        ("rank count: ge as float32 + sum (kernel)",
         lambda: (torch.ge(block, t, out=as_float), torch.sum(as_float, 1, out=counts))),
        ("  ge as float32 + mv with ones", lambda: (torch.ge(block, t, out=as_float), torch.mv(as_float, ones))),
        ("  ge as bf16 + sum in float32",
         lambda: (torch.ge(block, t, out=as_bf16), torch.sum(as_bf16, 1, dtype=torch.float32))),
        ("  ge as uint8 + sum in int32", lambda: (torch.ge(block, t, out=as_uint8), torch.sum(as_uint8, 1, dtype=torch.int32))),
        ("  ge as bool + sum", lambda: (block >= t).sum(1)),
        ("chunk maxima, 64 columns (kernel)", lambda: block.view(rows, width // 64, 64).amax(-1)),
        ("  torch.topk(20) of the block", lambda: torch.topk(block, 20, dim=1)),
    ]
    print(f"one {rows} x {width} block (d {d}), one thread, best of 5 x 300 calls:")
    for name, fn in cases:
        for _ in range(20):
            fn()
        best = float("inf")
        for _ in range(5):
            start = time.thread_time()
            for _ in range(300):
                fn()
            best = min(best, (time.thread_time() - start) / 300)
        print(f"  {name:45s} {best * 1e6:8.1f} us")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3, help="times the 4 batches are ranked after one warm-up")
    ap.add_argument("--alternatives", action="store_true", help="also time the per-block alternatives (see above)")
    args = ap.parse_args()
    reps = args.reps
    import torch

    from ranking_ab import yardstick_batches   # bench/ is the script's folder, first on sys.path

    kernel = instrumented()
    torch.set_num_threads(1)
    table, batches = yardstick_batches()
    buffers = kernel.RankBuffers(workers=1)
    for states, targets, rows, seen_items in batches:
        kernel.rank_full_dot(states, table, targets, rows, seen_items, 20, True, buffers)
    kernel.SECTIONS.clear()
    start = time.thread_time()
    for _ in range(reps):
        for states, targets, rows, seen_items in batches:
            kernel._last[0] = time.thread_time()
            kernel.rank_full_dot(states, table, targets, rows, seen_items, 20, True, buffers)
    n = reps * len(batches)
    total = (time.thread_time() - start) / n * 1e3
    print(f"CPU per batch: {total:.1f} ms (one thread, {n} batches)")
    for name, seconds in sorted(kernel.SECTIONS.items(), key=lambda kv: -kv[1]):
        print(f"  {name:20s} {seconds / n * 1e3:6.1f} ms  {seconds / n * 1e3 / total:6.1%}")
    print(f"block products chosen (shape: oneDNN?): {buffers.onednn_shapes}")
    if args.alternatives:
        alternatives()


if __name__ == "__main__":
    main()
