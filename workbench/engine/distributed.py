"""More than one process per run: torchrun ranks training one model with DistributedDataParallel.

``trainer.nproc = N`` (or ``workbench run EXP --nproc N``) runs a run as N ranks started by torch's
elastic launcher (``python -m torch.distributed.run``, i.e. torchrun). Each rank executes
``python -m workbench.engine.distributed``: it joins the process group (gloo for CPU tensors, plus
NCCL for CUDA tensors when CUDA is there), builds the same session as a single process, and

- trains the model wrapped in DistributedDataParallel; every rank draws the same seeded epoch
  permutation and takes its share (``rows[rank::world]``) of each global batch of
  ``trainer.batch_size`` rows, its loss weighted by its share of the batch's targets, so the
  averaged gradient is the one of the whole batch (what one process computes);
- evaluates its share of the users (``users[rank::world]``); the per-user rankings are gathered
  and every rank computes the same metrics from them (so all agree on early stopping);
- on rank 0 only: writes the run's status, events, metrics and checkpoints to the workspace and
  reads the checkpoints to resume (sent to the other ranks).

The launching process (the CLI, or a background worker) waits for torchrun, turns a cancel
request into a flag file that rank 0 polls (the ranks agree on it every ``POLL_STEPS`` steps),
and when a rank fails records the earliest failing rank's traceback with the run (status
``failed``; the last checkpoint stays, so ``workbench runs resume`` continues it).

Torch is imported lazily: the CLI imports this module to launch.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POLL_STEPS = 16          # ranks agree on a cancel request every this many steps (and after every epoch)
STOP_FLAG = "stop"


@dataclass
class DistContext:
    """Where this process stands among the ranks of a run (the default: one process, rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    control_dir: Path | None = None

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def writer(self) -> bool:
        """Rank 0 alone writes to the workspace."""
        return self.rank == 0

    # ---------------------------------------------------------------- data
    def shard(self, values):
        """This rank's share of a sequence or array: every ``world_size``-th element from ``rank``."""
        return values[self.rank::self.world_size] if self.active else values

    def device_for(self, device):
        """A CUDA device becomes this rank's own GPU (``cuda:LOCAL_RANK``); others are unchanged."""
        import torch
        if not self.active or device.type != "cuda":
            if self.active and device.type not in ("cpu", "cuda"):
                raise ValueError(f"trainer.nproc > 1 runs on CPU or CUDA, not {device.type}")
            return device
        if self.local_rank >= torch.cuda.device_count():
            raise ValueError(f"rank {self.rank} needs GPU {self.local_rank} but {torch.cuda.device_count()} are "
                             "visible: --nproc at most the number of GPUs (or trainer.device = \"cpu\")")
        device = torch.device("cuda", self.local_rank)
        torch.cuda.set_device(device)
        return device

    def wrap(self, module, device):
        """``module`` in DistributedDataParallel (parameters broadcast from rank 0 now)."""
        from torch.nn.parallel import DistributedDataParallel
        return DistributedDataParallel(module, device_ids=[device] if device.type == "cuda" else None,
                                       find_unused_parameters=True)

    # ---------------------------------------------------------------- collectives
    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (pickled; keep tensors on the CPU)."""
        if not self.active:
            return obj
        import torch
        import torch.distributed as dist
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=torch.device("cpu"))
        return box[0]

    def all_sum(self, value):
        """A tensor summed over the ranks (one all-reduce; in place, returned)."""
        if self.active:
            import torch.distributed as dist
            dist.all_reduce(value)
        return value

    def agree(self, should_stop: Callable[[], bool]) -> bool:
        """Rank 0 asks ``should_stop()``; every rank gets its answer (a CPU collective, no device sync)."""
        if not self.active:
            return bool(should_stop())
        return bool(self.broadcast(bool(should_stop()) if self.writer else None))

    def poll_due(self, step: int, since_poll_s: float, every_s: float) -> bool:
        """Whether to poll for a cancel request after step ``step`` (0-based): by time in one
        process; every ``POLL_STEPS`` steps with several (ranks must poll at the same steps)."""
        if not self.active:
            return since_poll_s >= every_s
        return (step + 1) % POLL_STEPS == 0

    def gather_eval(self, parts: dict[str, list], aux: dict[str, list]) -> tuple[dict[str, list], dict[str, list]]:
        """Per-user evaluation arrays of every rank, concatenated in rank order (the same on all ranks)."""
        import numpy as np
        import torch
        import torch.distributed as dist
        mine = ({k: np.concatenate(v) for k, v in parts.items() if v},
                {k: torch.cat(v) for k, v in aux.items() if v})
        everyone: list = [None] * self.world_size
        dist.all_gather_object(everyone, mine)
        out_parts: dict[str, list] = {k: [] for k in parts}
        out_aux: dict[str, list] = {}
        for rank_parts, rank_aux in everyone:
            for k, v in rank_parts.items():
                out_parts.setdefault(k, []).append(v)
            for k, v in rank_aux.items():
                out_aux.setdefault(k, []).append(v)
        return out_parts, out_aux

    def stop_flag_set(self) -> bool:
        """Rank 0's cancel check: the launcher created the stop flag."""
        return self.control_dir is not None and (self.control_dir / STOP_FLAG).exists()


SINGLE = DistContext()


# -------------------------------------------------------------------- launching
@dataclass
class LaunchOptions:
    """torchrun's placement: ``nproc`` ranks on each of ``nnodes`` machines.

    One machine: c10d rendezvous on 127.0.0.1 with a port the OS picks (port 0), loopback only.
    Several: ``node_rank`` 0 (where the run is created and rank 0 writes the workspace) hosts
    the static rendezvous at ``rdzv_endpoint`` (host:port) that every node passes.
    """

    nproc: int
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None

    def check(self) -> None:
        if self.nproc < 1:
            raise ValueError("--nproc must be >= 1")
        if self.nnodes < 1 or not 0 <= self.node_rank < self.nnodes:
            raise ValueError(f"--node-rank must be in [0, {self.nnodes}) with --nnodes {self.nnodes}")
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ValueError("--rdzv-endpoint HOST:PORT (on node 0) is needed with --nnodes > 1")

    def torchrun_args(self) -> list[str]:
        if self.nnodes == 1:
            endpoint = self.rdzv_endpoint or "127.0.0.1:0"
            return ["--nnodes", "1", "--nproc-per-node", str(self.nproc), "--rdzv-backend", "c10d",
                    "--rdzv-endpoint", endpoint, "--rdzv-id", uuid.uuid4().hex, "--max-restarts", "0"]
        return ["--nnodes", str(self.nnodes), "--node-rank", str(self.node_rank), "--nproc-per-node",
                str(self.nproc), "--rdzv-backend", "static", "--rdzv-endpoint", str(self.rdzv_endpoint),
                "--max-restarts", "0"]


def torchrun_command(ws_path: Path, run_id: int | None, options: LaunchOptions, control_dir: Path, *,
                     resume: bool = False, quiet: bool = False) -> list[str]:
    """The full ``python -m torch.distributed.run ... -m workbench.engine.distributed ...`` command."""
    cmd = [sys.executable, "-m", "torch.distributed.run", *options.torchrun_args(), "-m", "workbench.engine.distributed",
           "--workspace", str(Path(ws_path).resolve()), "--control-dir", str(control_dir)]
    if run_id is not None:
        cmd += ["--run-id", str(run_id)]
    if resume:
        cmd.append("--resume")
    if quiet:
        cmd.append("--quiet")
    return cmd


def rank_failures(control_dir: Path) -> list[dict]:
    """The failure records the ranks of this node wrote, earliest first (the root cause)."""
    out = []
    for path in sorted(control_dir.glob("rank-*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(out, key=lambda r: r.get("time", 0.0))


def launch_run(ws_path, run_id: int | None, options: LaunchOptions, *, resume: bool = False,
               should_stop: Callable[[], bool] = lambda: False, quiet: bool = False,
               poll_s: float = 0.5) -> dict:
    """Run ``run_id`` as torchrun ranks and wait for them. Returns the stored test metrics ({} when
    cancelled). Raises RuntimeError when torchrun fails, after recording the root-cause traceback
    with the run (on node 0). ``run_id`` None: a node > 0 joining node 0's run."""
    options.check()
    control_dir = Path(tempfile.mkdtemp(prefix="workbench-ranks-"))
    cmd = torchrun_command(Path(ws_path), run_id, options, control_dir, resume=resume, quiet=quiet)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env)
        stop_sent = False
        while True:
            try:
                rc = proc.wait(timeout=poll_s)
                break
            except subprocess.TimeoutExpired:
                if not stop_sent and should_stop():
                    (control_dir / STOP_FLAG).touch()
                    stop_sent = True
            except KeyboardInterrupt:       # Ctrl+C reached the ranks too: let them record it, then stop
                (control_dir / STOP_FLAG).touch()
                try:
                    proc.wait(timeout=60)
                except (subprocess.TimeoutExpired, KeyboardInterrupt):
                    proc.kill()
                    proc.wait()
                raise
        failures = rank_failures(control_dir)
        if run_id is None:
            if rc != 0:
                raise RuntimeError(_failure_text(failures, rc))
            return {}
        return _outcome(ws_path, run_id, rc, failures)
    finally:
        shutil.rmtree(control_dir, ignore_errors=True)


def _failure_text(failures: list[dict], rc: int) -> str:
    if not failures:
        return f"torchrun exited with status {rc} (no rank recorded a Python traceback; see its output)"
    first = failures[0]
    others = "".join(f"\nrank {f['rank']} also failed: {f['summary']}" for f in failures[1:])
    return f"rank {first['rank']} failed:\n{first['traceback']}{others}"


def _outcome(ws_path, run_id: int, rc: int, failures: list[dict]) -> dict:
    """After torchrun: the run's test metrics, or RuntimeError with the root cause recorded."""
    from workbench.store import open_workspace, runs
    ws = open_workspace(Path(ws_path))
    try:
        row = runs.get(ws, run_id) or {"status": "failed", "test_metrics": None}
        status = row["status"]
        if status == "completed":        # rank 0 recorded the whole run
            return json.loads(row["test_metrics"]) if row["test_metrics"] else {}
        if rc == 0 and status == "cancelled":
            return {}
        text = _failure_text(failures, rc)
        if status in ("queued", "running"):      # rank 0 was stopped before it could record anything
            runs.set_status(ws, run_id, "failed", only_from=("queued", "running"), error=text, finished_at=time.time())
        elif status == "failed" or failures:     # rank 0 recorded what it saw; the root cause may be another rank
            runs.update(ws, run_id, error=text)
        raise RuntimeError(f"rank {failures[0]['rank']} failed: {failures[0]['summary']}" if failures else text)
    finally:
        ws.close()


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
        from workbench.engine.runner import run_config
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
        from workbench.cli.run_cmd import ProgressPrinter
        listeners.append(ProgressPrinter(quiet=False))
    try:
        execute_run(ws_path, run_id, listeners=listeners, should_stop=ctx.stop_flag_set, resume=resume, dist=ctx)
    finally:
        for listener in listeners:
            listener.close()


def rank_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.engine.distributed",
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
