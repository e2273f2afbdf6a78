"""Cost growth with data size: import, load, full-ranking evaluation (issue 18's table).

    .venv/bin/workbench data generate --events 10000000 --users 200000 --items 400000 --out syn10m.csv
    .venv/bin/python bench/scale.py import syn10m.csv            # import wall, peak RSS, workspace size, load
    .venv/bin/python bench/scale.py eval --users 20000 --items 134000   # full-ranking kernel
    .venv/bin/python bench/scale.py windows WORKSPACE.db                # training rows: whole vs per batch
    .venv/bin/python bench/scale.py train WORKSPACE.db --steps 5        # training process: session + 5 steps, peak RSS
    .venv/bin/python bench/scale.py train WORKSPACE.db --steps 0        # the same with a whole epoch (no validation)
    .venv/bin/python bench/scale.py sequences WORKSPACE.db              # train_sequences: lists vs columns, RSS

``import`` runs ``workbench data import`` in a fresh temporary workspace as a child process
(its wall time and peak RSS from ``getrusage``), then ``load_dataset`` in another child (time,
peak RSS; the first load of a fresh workspace reads the columnar cache written at import).

``eval`` times :func:`workbench.engine.evaluate.evaluate` on random user states and a random
(N+1, 64) item table through the dot-product path (blocked scoring, running top-K, rank
counting), B = 256 users per batch, 50 seen items excluded per user, K = 20 with the default
evaluators; and, for comparison, the bare matrix product of the same users and items written
block by block into reused buffers (the floor any exact full ranking pays), once with the blocks
shared among one-core threads as ``evaluate()`` shares them, once in one loop on torch's intra-op
threads. Each line gives wall and CPU time (user + system, all threads) and GFLOP/s.

Every figure is printed with the ``uptime`` load averages at the time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


CPU = {"last": 0.0}


def child(args: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall s, peak RSS GiB, stdout) of a child process (RUSAGE_CHILDREN, so one child at a time);
    its CPU seconds (user + system) are left in ``CPU["last"]``: on a shared machine the wall time
    mostly measures the other processes."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = r0.ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = r1.ru_maxrss
    CPU["last"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if peak <= before:
        print("  (peak RSS not above an earlier child's; reported as that bound)")
    return wall, peak / 2 ** 20, proc.stdout


LOAD = """
import json, resource, sys, time
from workbench.data.dataset import load_dataset
from workbench.store.workspace import open_workspace
t = time.perf_counter()
with open_workspace(sys.argv[1]) as ws:
    ds = load_dataset(ws, sys.argv[2])
    n = int(ds.items.sum() % 7)        # touch every event once
wall = time.perf_counter() - t
print(json.dumps({"load_s": wall, "events": int(len(ds.items)), "rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def bench_import(csv: Path, keep: Path | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="wb-scale-")) if keep is None else keep
    ws = tmp / "scale.db"
    print(f"import {csv} ({csv.stat().st_size / 2**20:.0f} MiB) into {ws}; load {load_avg()}")
    wall, rss, out = child([str(Path(PY).with_name("workbench")), "-w", str(ws), "data", "import", str(csv),
                            "--name", "syn", "--json"])
    summary = json.loads(out)
    size = ws.stat().st_size + sum(p.stat().st_size for p in (tmp / "scale.files").rglob("*") if p.is_file())
    print(f"  import: {wall:.1f} s wall ({CPU['last']:.1f} s CPU), peak RSS {rss:.2f} GiB, {summary['n_interactions']:,} events, "
          f"{summary['n_users']:,} users, {summary['n_items']:,} items; workspace {ws.stat().st_size / 2**20:.0f} MiB "
          f"+ column cache {(size - ws.stat().st_size) / 2**20:.0f} MiB; load {load_avg()}")
    for attempt in (1, 2):
        wall, rss, out = child([PY, "-c", LOAD, str(ws), "syn"])
        r = json.loads(out)
        print(f"  load_dataset #{attempt}: {r['load_s']:.2f} s in-process ({wall:.1f} s wall, {CPU['last']:.1f} s CPU "
              f"with interpreter start), "
              f"peak RSS {r['rss_gib']:.2f} GiB; load {load_avg()}")


LOADED = """
import json, resource, sys, time
from workbench.data.dataset import load_dataset, make_split
from workbench.store.workspace import open_workspace
with open_workspace(sys.argv[1]) as ws:
    ds = load_dataset(ws, sys.argv[2])
split = make_split(ds, "loo")
"""

WINDOWS = LOADED + """
import torch
from workbench.engine import batches as B
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
c, t = time.process_time(), time.perf_counter()
rows = getattr(B, sys.argv[3])(ds, split, int(sys.argv[4]), "all")
build_cpu = time.process_time() - c
order = B.epoch_batches(rows.lengths, 256, torch.Generator().manual_seed(0))
c = time.process_time()
for index in order[:200]:
    rows.batch(index)
print(json.dumps({"rows": len(rows), "build_cpu": build_cpu, "batch_ms": (time.process_time() - c) / min(200, len(order)) * 1e3,
                  "rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "added_gib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 2**20}))
"""


def bench_windows(ws: Path, dataset: str, max_len: int) -> None:
    """Training rows (windows "all") built whole (``training_tensors``) or cut per batch
    (``training_windows``): peak RSS added after loading the dataset, CPU to build, CPU per batch of 256."""
    for how in ("training_tensors", "training_windows"):
        wall, rss, out = child([PY, "-c", WINDOWS, str(ws), dataset, how, str(max_len)])
        r = json.loads(out)
        print(f"  {how}: {r['rows']:,} rows of L {max_len}; build {r['build_cpu']:.2f} s CPU, "
              f"{r['batch_ms']:.2f} ms CPU per batch of 256; peak RSS {r['rss_gib']:.2f} GiB "
              f"(+{r['added_gib']:.2f} GiB over the loaded dataset); load {load_avg()}")


TRAIN = """
import json, resource, sys, time
import torch
from workbench.engine.batches import epoch_batches
from workbench.engine.config import run_config
from workbench.engine.runner import create_run
from workbench.engine.session import RunSession
from workbench.store.workspace import open_workspace
torch.set_num_threads(int(sys.argv[4]))
raw = json.loads(sys.argv[2])
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
with open_workspace(sys.argv[1]) as ws:
    c, t = time.process_time(), time.perf_counter()
    run_id = create_run(ws, raw, dataset=sys.argv[5])
    session = RunSession(ws, run_id, run_config(ws, run_id)[1], record=False)
    trainer = session.trainer
    build = {"build_s": time.perf_counter() - t, "build_cpu": time.process_time() - c, "build_rss_gib": rss(),
             "rows": len(session.train), "valid_users": sum(len(b.users) for b in session.valid),
             "sparse": [f"{m.num_embeddings}x{m.embedding_dim}" for m in trainer.sparse_tables],
             "optimizer": type(trainer.optimizer).__name__}
    order = epoch_batches(session.train.lengths, session.cfg.trainer.batch_size, torch.Generator().manual_seed(0))
    steps = int(sys.argv[3])
    if steps == 0:       # a whole epoch through the trainer's own loop (no validation)
        import threading
        samples, done = [], threading.Event()
        def sample():    # resident set every 2 s: does it level off during the epoch?
            while not done.wait(2.0):
                samples.append(int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**30)
        threading.Thread(target=sample, daemon=True).start()
        c, t = time.process_time(), time.perf_counter()
        loss_sum, steps, _ = trainer._epoch(1, time.monotonic())
        done.set()
        out = {"epoch_s": time.perf_counter() - t, "epoch_cpu": time.process_time() - c,
               "loss": float(loss_sum) / max(1, steps),
               "rss_quarters": [samples[min(len(samples) - 1, len(samples) * q // 4)] for q in (1, 2, 3, 4)]
               if samples else []}
        per = [out["epoch_s"] / max(1, steps)], [out["epoch_cpu"] / max(1, steps)]
    else:
        model = session.model.train()
        out, per = {}, ([], [])
        for rows in order[:steps]:
            c, t = time.process_time(), time.perf_counter()
            batch = session.train.batch(rows).to(session.device)
            with trainer.autocast():
                loss = model.loss(batch)
            trainer.optimizer.zero_grad(set_to_none=True)
            trainer._backward_and_step(loss)
            per[0].append(time.perf_counter() - t)
            per[1].append(time.process_time() - c)
        steps = len(per[0])
        out["first_step_s"], out["first_step_cpu"] = per[0][0], per[1][0]
        if steps > 1:    # the first step also allocates the optimiser's moments
            per = per[0][1:], per[1][1:]
print(json.dumps({**build, **out, "steps": steps, "epoch_steps": len(order), "step_s": sum(per[0]) / len(per[0]),
                  "step_cpu": sum(per[1]) / len(per[1]), "rss_gib": rss()}))
"""


def bench_train(ws: Path, experiment: Path, steps: int, threads: int, dataset: str, sparse: str,
                sets: list[str]) -> None:
    """Peak RSS of a training process: the run's session (data, model, training rows, validation cases)
    built, then ``steps`` optimiser steps with the trainer's optimiser (0: a whole epoch through the
    trainer's loop, without validation). Per-step figures leave out the first step (it allocates the
    optimiser's moments), which is printed apart. ``sets``: ``KEY=VALUE`` overrides of the experiment,
    as ``bench/ml1m.py --set`` takes them."""
    from ml1m import set_key   # bench/ is the script's folder, first on sys.path
    from workbench.engine.config import load_toml

    raw = load_toml(experiment)
    for dotted in [f"trainer.sparse_tables={sparse}", *sets]:
        set_key(raw, dotted)
    wall, _, out = child([PY, "-c", TRAIN, str(ws), json.dumps(raw), str(steps), str(threads), dataset])
    r = json.loads(out)
    print(f"  train (sparse_tables {sparse}: {r['optimizer']}, row-sparse {r['sparse'] or 'none'}): session built in "
          f"{r['build_s']:.1f} s ({r['build_cpu']:.1f} s CPU), {r['rows']:,} training rows, "
          f"{r['valid_users']:,} validation users, RSS {r['build_rss_gib']:.2f} GiB; load {load_avg()}")
    if "epoch_s" in r:
        print(f"  whole epoch: {r['steps']} steps in {r['epoch_s']:.1f} s wall, {r['epoch_cpu']:.1f} s CPU "
              f"({r['step_s']:.3f} s wall, {r['step_cpu']:.3f} s CPU per step), mean loss {r['loss']:.3f}; "
              f"peak RSS {r['rss_gib']:.2f} GiB; RSS after each quarter of the epoch "
              f"{', '.join(f'{x:.2f}' for x in r['rss_quarters'])} GiB; load {load_avg()}")
    else:
        print(f"  {r['steps']} of {r['epoch_steps']} steps: first {r['first_step_s']:.2f} s wall / "
              f"{r['first_step_cpu']:.2f} s CPU, then {r['step_s']:.3f} s wall, {r['step_cpu']:.3f} s CPU per step; "
              f"peak RSS {r['rss_gib']:.2f} GiB; load {load_avg()}")


SEQUENCES = LOADED + """
from workbench.engine.batches import train_sequences
n = int(ds.items.sum() % 7)          # touch every event once: the dataset's own pages count in the base
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
c = time.process_time()
if sys.argv[3] == "lists":           # what DataContext held before: a Python list of ints per user
    seqs = [[]] + [ds.items[ds.offsets[u]:split.train_end[u]].tolist() for u in range(1, ds.n_users + 1)]
    n = sum(map(len, seqs))
else:
    seqs = train_sequences(ds, split)
    n = len(seqs.values)
print(json.dumps({"events": n, "cpu": time.process_time() - c,
                  "added_gib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 2**20}))
"""


def bench_sequences(ws: Path, dataset: str) -> None:
    """``DataContext.train_sequences``: a Python list of ints per user (before) against the columnar
    ``ItemSequences``; peak RSS added over the loaded dataset and split, CPU to build."""
    for how in ("lists", "columns"):
        _, _, out = child([PY, "-c", SEQUENCES, str(ws), dataset, how])
        r = json.loads(out)
        print(f"  train_sequences as {how}: {r['events']:,} training events, built in {r['cpu']:.2f} s CPU, "
              f"+{r['added_gib']:.3f} GiB peak RSS; load {load_avg()}")


def bench_eval(users: int, items: int, dim: int, batch: int, seen: int, intra_op: bool = True,
               products: bool = True) -> None:
    import numpy as np
    import torch

    from workbench.engine.eval_types import EvalBatch
    from workbench.engine.evaluate import build_evaluators, evaluate
    from workbench.engine.block_ranking import _onednn_product
    from workbench.engine.ranking import RankBuffers
    from workbench.model.base import SeqBatch

    g = torch.Generator().manual_seed(0)
    table = torch.randn(items + 1, dim, generator=g)
    states = torch.randn(users, dim, generator=g)
    batches = []
    for lo in range(0, users, batch):
        b = min(batch, users - lo)
        seq = torch.zeros(b, 2, dtype=torch.long)
        seq[:, -1] = torch.arange(lo, lo + b)
        rows = torch.arange(b).repeat_interleave(seen)
        batches.append(EvalBatch(SeqBatch(items=seq, targets=torch.zeros_like(seq), users=torch.arange(b)),
                                 torch.randint(1, items + 1, (b,), generator=g), rows,
                                 torch.randint(1, items + 1, (b * seen,), generator=g),
                                 torch.full((b,), seen), torch.arange(lo, lo + b)))
    pop = np.ones(items + 1)
    print(f"eval: {users:,} users x {items:,} items, d {dim}, batch {batch}, {seen} seen per user, "
          f"{torch.get_num_threads()} threads; load {load_avg()}")
    c0 = time.process_time()
    t0 = time.perf_counter()
    res = evaluate(lambda sb: states[sb.items[:, -1]], None, batches, num_items=items, item_popularity=pop,
                   evaluators=build_evaluators(), score_table=lambda: table)
    full = time.perf_counter() - t0
    full_cpu = time.process_time() - c0
    flop = 2.0 * users * (items + 1) * dim
    print(f"  evaluate(): {full:.1f} s wall, {full_cpu:.1f} s CPU ({flop / full / 1e9:.1f} GFLOP/s of scoring), "
          f"ranking+scoring {res.timings['rank_s']:.1f} s, metrics {res.timings['metrics_s']:.1f} s; "
          f"load {load_avg()}")
    if not products:
        return
    buffers = RankBuffers()
    width = buffers.width(batch, items + 1)
    workers = buffers.num_workers(torch.device("cpu"))
    starts = range(0, items + 1, width)
    shares = [starts[len(starts) * i // workers:len(starts) * (i + 1) // workers] for i in range(workers)]
    outs = [torch.empty(batch, width) for _ in range(workers)]
    pool = buffers.pool(workers) if workers > 1 else None

    def products(share: range, out: torch.Tensor, kernels: bool) -> None:
        for lo in range(0, users, batch):
            s = states[lo:lo + batch]
            product = _onednn_product(s, table, buffers) if kernels else None
            for c in share:
                w = min(width, items + 1 - c)
                if kernels:
                    product(out[:s.shape[0], :w], c, c + w)
                else:
                    torch.mm(s, table[c:c + w].T, out=out[:s.shape[0], :w])

    def timed(threads: bool, kernels: bool) -> tuple[float, float]:
        c0 = time.process_time()
        t0 = time.perf_counter()
        if not threads or pool is None:
            products(starts, outs[0], kernels)
        else:
            for f in [pool.submit(products, share, out, kernels) for share, out in zip(shares, outs)]:
                f.result()
        return time.perf_counter() - t0, time.process_time() - c0

    for what, threads, kernels in (
            (f"the kernel's block products (%s), blocks shared among {workers} one-core threads as in "
             "evaluate()", True, True),
            (f"torch.mm, blocks shared among {workers} one-core threads", True, False),
            (f"torch.mm in one loop on torch's {torch.get_num_threads()} intra-op threads (the previous yardstick)",
             False, False))[:3 if intra_op else 2]:
        mm, mm_cpu = timed(threads, kernels)
        if kernels:     # which product the kernel chose for each block shape, known once they ran
            chosen = {(b, w, d): v for (b, w, d, *_), v in sorted(buffers.onednn_shapes.items())}
            what = what % ", ".join(f"{'oneDNN' if v else 'torch.mm'} for {b} x {w} x d {d}"
                                    for (b, w, d), v in chosen.items())
        print(f"  bare blocked matmul, {what}: {mm:.1f} s wall, {mm_cpu:.1f} s CPU ({flop / mm / 1e9:.1f} GFLOP/s, "
              f"{flop / mm_cpu / 1e9:.1f} GFLOP per CPU-second); evaluate() = {full / mm:.2f} x in wall time, "
              f"{full_cpu / mm_cpu:.2f} x in CPU time; load {load_avg()}")
    buffers.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    imp = sub.add_parser("import")
    imp.add_argument("csv", type=Path)
    imp.add_argument("--keep", type=Path, default=None, help="folder for the workspace (default: a temporary one)")
    win = sub.add_parser("windows")
    win.add_argument("workspace", type=Path)
    win.add_argument("--dataset", default="syn")
    win.add_argument("--max-len", type=int, default=50)
    tr = sub.add_parser("train")
    tr.add_argument("workspace", type=Path)
    tr.add_argument("--experiment", type=Path, default=REPO / "bench" / "scale_sampled.toml")
    tr.add_argument("--dataset", default="syn")
    tr.add_argument("--steps", type=int, default=5)
    tr.add_argument("--threads", type=int, default=1)
    tr.add_argument("--sparse-tables", default="auto", choices=["auto", "on", "off"],
                    help="trainer.sparse_tables for this measurement")
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="experiment override, e.g. head.type=bce (dotted keys, as bench/ml1m.py --set)")
    sq = sub.add_parser("sequences")
    sq.add_argument("workspace", type=Path)
    sq.add_argument("--dataset", default="syn")
    ev = sub.add_parser("eval")
    ev.add_argument("--users", type=int, default=20_000)
    ev.add_argument("--items", type=int, default=134_000)
    ev.add_argument("--dim", type=int, default=64)
    ev.add_argument("--batch", type=int, default=256)
    ev.add_argument("--seen", type=int, default=50)
    ev.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ev.add_argument("--no-intra-op", action="store_true",
                    help="skip the torch.mm loop on intra-op threads (slow when the cores are busy)")
    ev.add_argument("--no-products", action="store_true",
                    help="time evaluate() only, not the bare products after it (they take ~60 %% as long)")
    a = ap.parse_args()
    if a.what == "import":
        bench_import(a.csv, a.keep)
    elif a.what == "train":
        bench_train(a.workspace, a.experiment, a.steps, a.threads, a.dataset, a.sparse_tables, a.set)
    elif a.what == "sequences":
        bench_sequences(a.workspace, a.dataset)
    elif a.what == "windows":
        bench_windows(a.workspace, a.dataset, a.max_len)
    else:
        if a.threads:
            import torch
            torch.set_num_threads(a.threads)
        bench_eval(a.users, a.items, a.dim, a.batch, a.seen, not a.no_intra_op, not a.no_products)


if __name__ == "__main__":
    main()
