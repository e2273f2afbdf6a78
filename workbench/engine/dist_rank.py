"""One torchrun rank of a Workbench run: ``python -m workbench.engine.dist_rank`` (started by
:func:`workbench.engine.distributed.launch_run`, which documents the protocol). Rank 0 executes
and records the run (:func:`workbench.engine.runner.execute_run` with its context); the others
follow it without writing to the workspace. Apart from the launcher so that the runner, which
launches, and this module, which runs, do not import each other.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from workbench.engine.dist_context import DistContext


# -------------------------------------------------------------------- one rank
def _record_failure(control_dir: Path | None, rank: int) -> None:
    if control_dir is None:
        return
    tb = traceback.format_exc()
    record = {"rank": rank, "time": time.time(), "traceback": tb, "summary": tb.strip().splitlines()[-1]}
    tmp = control_dir / f".rank-{rank}.json.partial"
    tmp.write_text(json.dumps(record))
    os.replace(tmp, control_dir / f"rank-{rank}.json")


def _follow(ws_path: Path, shared: dict, resume: bool, ctx: DistContext) -> None:
    """A rank other than 0: the same session, nothing written to the workspace."""
    from workbench.engine.config import parse_config
    from workbench.engine.session import RunSession
    from workbench.store import open_workspace
    ws = open_workspace(ws_path)
    try:
        cfg = parse_config(shared["config"])
        session = RunSession(ws, shared["run_id"], cfg, record=False, dist=ctx)
        if shared["fingerprint"] and shared["fingerprint"] != session.dataset.fingerprint:
            raise RuntimeError(f"rank {ctx.rank}: dataset {cfg.dataset!r} in {ws_path} differs from rank 0's "
                               "(fingerprint); every node needs the same dataset")
        session.run(resume=resume)
    finally:
        ws.close()


def _rank_body(ctx: DistContext, ws_path: Path, run_id: int | None, *, resume: bool, quiet: bool) -> None:
    """Rank 0 reads the run's config and sends it to the others; then rank 0 executes (and records)
    the run while the others follow it."""
    shared = None
    if ctx.writer:
        if run_id is None:
            raise RuntimeError("rank 0 needs --run-id (node 0 creates the run)")
        from workbench.engine.config import run_config
        from workbench.store import open_workspace
        with open_workspace(ws_path) as ws:
            row, _ = run_config(ws, run_id)
        shared = {"run_id": run_id, "config": json.loads(row["config"]), "fingerprint": row["data_fingerprint"]}
    shared = ctx.broadcast(shared)
    if not ctx.writer:
        _follow(ws_path, shared, resume, ctx)
        return
    from workbench.engine.runner import execute_run
    listeners = []
    if not quiet:
        from workbench.cli.progress import ProgressPrinter
        listeners.append(ProgressPrinter(quiet=False))
    try:
        execute_run(ws_path, run_id, listeners=listeners, should_stop=ctx.stop_flag_set, resume=resume, dist=ctx)
    finally:
        for listener in listeners:
            listener.close()


def rank_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.engine.dist_rank",
                                     description="One torchrun rank of a Workbench run (started by launch_run).")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--run-id", type=int, default=None, help="the run (node 0; other nodes get it from rank 0)")
    parser.add_argument("--control-dir", default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    ctx = DistContext(rank, world, int(os.environ.get("LOCAL_RANK", "0")),
                      Path(args.control_dir) if args.control_dir else None)
    try:
        import torch
        import torch.distributed as dist
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
        dist.init_process_group(backend=backend)
        _rank_body(ctx, Path(args.workspace), args.run_id, resume=args.resume, quiet=args.quiet)
        dist.destroy_process_group()     # on success only: a failing rank records its traceback and exits
        #                                  before its peers lose their connections (the root cause is earliest)
    except KeyboardInterrupt:          # Ctrl+C: rank 0 recorded the run as cancelled
        raise
    except BaseException:
        _record_failure(ctx.control_dir, rank)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(rank_main())
