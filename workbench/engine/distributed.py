"""More than one process per run: torchrun ranks training one model with DistributedDataParallel.

``trainer.nproc = N`` (or ``workbench run EXP --nproc N``) runs a run as N ranks started by torch's
elastic launcher (``python -m torch.distributed.run``, i.e. torchrun). Each rank executes
``python -m workbench.engine.dist_rank``: it joins the process group (gloo for CPU tensors, plus
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

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.engine.dist_context import POLL_STEPS, SINGLE, STOP_FLAG, DistContext  # noqa: F401 - re-exported


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
    """The full ``python -m torch.distributed.run ... -m workbench.engine.dist_rank ...`` command."""
    cmd = [sys.executable, "-m", "torch.distributed.run", *options.torchrun_args(), "-m", "workbench.engine.dist_rank",
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
    loopback = _loopback_interface() if options.nnodes == 1 else None
    if loopback and "GLOO_SOCKET_IFNAME" not in env:    # one machine: gloo talks over loopback only
        env["GLOO_SOCKET_IFNAME"] = loopback
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env,
                                preexec_fn=_terminate_with_parent if sys.platform.startswith("linux") else None)
        stop_sent = False
        while True:
            try:
                rc = proc.wait(timeout=poll_s)
                break
            except subprocess.TimeoutExpired:
                if not stop_sent and should_stop():
                    (control_dir / STOP_FLAG).touch()
                    stop_sent = True
            except KeyboardInterrupt:       # Ctrl+C (the ranks got it too) or SIGTERM to this process:
                (control_dir / STOP_FLAG).touch()     # rank 0 cancels at its next poll and records it
                try:
                    proc.wait(timeout=60)
                except (subprocess.TimeoutExpired, KeyboardInterrupt):
                    proc.terminate()                  # torchrun stops its ranks on SIGTERM
                    try:
                        proc.wait(timeout=60)
                    except subprocess.TimeoutExpired:
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


def _terminate_with_parent() -> None:
    """In torchrun's process (Linux): SIGTERM when the launching process dies, even by SIGKILL, so a
    killed worker or CLI never leaves ranks training on; torchrun then stops its ranks."""
    import ctypes
    import signal
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)     # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _loopback_interface() -> str | None:
    """The loopback network interface's name (``lo`` on Linux, ``lo0`` on macOS), if there is one."""
    import socket
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (AttributeError, OSError):
        return None
    return next((n for n in names if n in ("lo", "lo0")), None)


def _failure_text(failures: list[dict], rc: int) -> str:
    if not failures:
        return f"torchrun exited with status {rc} (no rank recorded a Python traceback; see its output)"
    first = failures[0]
    others = "".join(f"\nrank {f['rank']} also failed: {f['summary']}" for f in failures[1:])
    return f"rank {first['rank']} failed:\n{first['traceback']}{others}"


def _outcome(ws_path, run_id: int, rc: int, failures: list[dict]) -> dict:
    """After torchrun: the run's test metrics, or RuntimeError with the root cause recorded."""
    from workbench.store import leases, open_workspace, runs
    ws = open_workspace(Path(ws_path))
    try:
        owner = leases.owner(ws, run_id)
        if owner and owner["alive"]:      # rank 0 is gone with torchrun: a live owner is another trainer now
            raise RuntimeError(f"torchrun exited with status {rc}; run {run_id} is now trained by process "
                               f"{owner['pid']}")
        row = runs.get(ws, run_id) or {"status": "failed", "test_metrics": None}
        status = row["status"]
        if status == "completed":        # rank 0 recorded the whole run
            return json.loads(row["test_metrics"]) if row["test_metrics"] else {}
        if status == "cancelled" and not failures:
            if rc == 0:                   # a cancel request, honoured
                return {}
            raise KeyboardInterrupt(f"interrupted (torchrun exited with status {rc})")
        text = _failure_text(failures, rc)
        if status in ("queued", "running"):      # rank 0 was stopped before it could record anything
            runs.set_status(ws, run_id, "failed", only_from=("queued", "running"), error=text, finished_at=time.time())
        elif status == "failed" or failures:     # rank 0 recorded what it saw; the root cause may be another rank
            runs.update(ws, run_id, error=text)
        raise RuntimeError(f"rank {failures[0]['rank']} failed: {failures[0]['summary']}" if failures else text)
    finally:
        ws.close()
