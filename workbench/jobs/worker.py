"""The background worker: ``python -m workbench.jobs.worker --workspace PATH [--device DEV]``.

Claims queued jobs of one device one at a time and executes each with the
engine's ``execute_run`` in this process, while a heartbeat thread keeps the
job's heartbeat fresh and relays cancellation requests. Exits when the queue
for its device is empty (``--stay`` keeps polling). A crash inside a run is
stored as the run's and job's traceback; a killed worker is detected by the
next worker, ``workbench jobs ls`` or the TUI (see :func:`queue.reap_dead`).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import traceback
from pathlib import Path

from workbench.jobs import queue
from workbench.store.leases import LeaseHeld, LeaseLost
from workbench.store.storage_errors import describe
from workbench.store.workspace import shrink_wal


class Heartbeat(threading.Thread):
    """Beats every ``queue.HEARTBEAT_S`` on its own connection; ``stop_requested`` mirrors the cancel flag."""

    def __init__(self, ws_path: Path, job_id: int):
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.ws_path = ws_path
        self.job_id = job_id
        self.stop_requested = False
        self._done = threading.Event()

    def run(self) -> None:
        from workbench.store import open_workspace

        ws = open_workspace(self.ws_path)
        try:
            while not self._done.is_set():
                try:
                    self.stop_requested = queue.beat(ws, self.job_id) or self.stop_requested
                except Exception as e:  # noqa: BLE001 - a locked DB for a moment must not kill the run
                    _say(f"heartbeat failed: {describe(e, self.ws_path) or e}")
                self._done.wait(min(queue.HEARTBEAT_S, 1.0) if not self.stop_requested else queue.HEARTBEAT_S)
        finally:
            ws.close()

    def close(self) -> None:
        self._done.set()
        self.join(timeout=5)


def _run_outcome(ws_path: Path, run_id: int) -> tuple[str, str | None]:
    """The run's stored status and error after ``execute_run`` returned (it records them itself)."""
    from workbench.store import open_workspace

    from workbench.store import runs

    ws = open_workspace(ws_path)
    try:
        row = runs.get(ws, run_id)
    finally:
        ws.close()
    if row is None:
        return "failed", f"run {run_id} disappeared from the workspace"
    status, error = row["status"], row["error"]
    if status not in queue.FINISHED:  # the engine returned without finishing the run: say so
        return "failed", f"execute_run returned with the run still {status}"
    return status, error if status == "failed" else None


def execute_job(ws_path: Path, job: queue.Job) -> str:
    """Run one claimed job to its end; returns the job's final status. Never raises for a failing run."""
    from workbench.store import open_workspace

    reserve = SpaceReserve(ws_path)     # freed when a write fails, so the failure itself can be recorded
    hb = Heartbeat(ws_path, job.id)
    hb.start()
    status, error = "failed", None
    try:
        from workbench.engine.runner import execute_run

        execute_run(ws_path, job.run_id, should_stop=lambda: hb.stop_requested, resume=job.resume)
        status, error = _run_outcome(ws_path, job.run_id)
    except (LeaseHeld, LeaseLost) as e:  # another trainer owns the run: leave the run to it
        status, error = "failed", str(e)
    except BaseException as e:  # noqa: BLE001 - store the traceback, keep the worker alive
        storage = describe(e, ws_path)   # read-only, disk full, damaged: one line says it all
        status, error = "failed", storage or traceback.format_exc()
        if storage:
            _say(f"run {job.run_id} stopped: {storage}")
        hb.close()          # its connection may hold the WAL that the records below need to reuse
        reserve.release()   # on a full disk, the room the records below need
        _record(lambda: _mark_run_failed(ws_path, job.run_id, error), f"the failure of run {job.run_id}", ws_path)
        if isinstance(e, KeyboardInterrupt):
            raise
    finally:
        hb.close()

        def finish() -> None:
            ws = open_workspace(ws_path)
            try:
                queue.finish(ws, job.id, status, error)
            finally:
                ws.close()

        reserve.release()
        _record(finish, f"the end of job {job.id} ({status})", ws_path)
    return status


class SpaceReserve:
    """A small file a job keeps beside its workspace while it trains and gives back when a write fails.

    On a full disk the run's failure, the job's end and the worker log's last line must still be
    written; deleting this file first gives them the room (the ballast-file technique). When it
    cannot be made (the disk is already full), there is simply no reserve.
    """

    SIZE = 64 * 1024

    def __init__(self, ws_path: Path):
        from workbench.store.workspace import files_dir_for

        self.path: Path | None = files_dir_for(ws_path) / f".space-reserve-{os.getpid()}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "wb") as f:
                f.write(b"\0" * self.SIZE)
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            self.release()

    def release(self) -> None:
        if self.path is not None:
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass
            self.path = None


def _record(write, what: str, ws_path: Path, attempts: int = 3) -> bool:
    """Make a bookkeeping write; when it fails (a full disk, a locked or read-only workspace) retry,
    then say so on stderr (the worker log) instead of letting the error kill the worker."""
    last = ""
    for attempt in range(attempts):
        try:
            write()
            return True
        except Exception as e:  # noqa: BLE001 - reported below
            last = describe(e, ws_path) or f"{type(e).__name__}: {e}"
            time.sleep(0.5 * (attempt + 1))
            shrink_wal(ws_path)     # a full disk: the write-ahead log's space may be given back
    _say(f"could not record {what}: {last}")
    return False


def _say(message: str) -> None:
    """One line on stderr (the worker log), which may itself be on the full disk: never raises."""
    try:
        print(f"workbench worker {os.getpid()}: {message}", file=sys.stderr, flush=True)
    except OSError:
        pass


def _mark_run_failed(ws_path: Path, run_id: int, error: str) -> None:
    """When the engine itself raised, make sure the run does not stay 'running'."""
    from workbench.store import open_workspace

    from workbench.store import runs

    from workbench.store import leases

    ws = open_workspace(ws_path)
    try:
        owner = leases.owner(ws, run_id)
        if owner and owner["alive"] and owner["pid"] != os.getpid():
            return  # another live trainer owns the run
        runs.set_status(ws, run_id, "failed", only_from=("queued", "running"), keep_error=True, error=error,
                        finished_at=time.time())
    finally:
        ws.close()


def work(ws_path: Path, device: str, *, stay: bool = False, poll_s: float = 1.0) -> int:
    """Process the device's queue; returns how many jobs ran."""
    from workbench.liveness import this_host
    from workbench.store import jobs as job_rows
    from workbench.store import open_workspace

    with open_workspace(ws_path) as ws:
        job_rows.register_worker(ws, os.getpid(), this_host(), device)
    try:
        return _work(ws_path, device, stay=stay, poll_s=poll_s)
    finally:
        with open_workspace(ws_path) as ws:
            job_rows.unregister_worker(ws, os.getpid(), this_host())


def _work(ws_path: Path, device: str, *, stay: bool, poll_s: float) -> int:
    from workbench.store import open_workspace

    ran = 0
    while True:
        ws = open_workspace(ws_path)
        try:
            job = queue.claim_next(ws, device)
        finally:
            ws.close()
        if job is None:
            if not stay:
                return ran
            time.sleep(poll_s)
            continue
        status = execute_job(ws_path, job)
        _say(f"job {job.id} (run {job.run_id}) {status}")
        ran += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.jobs.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", required=True, help="workspace file")
    parser.add_argument("--device", default="auto", help="device whose queue this worker serves")
    parser.add_argument("--stay", action="store_true", help="keep polling for new jobs instead of exiting")
    args = parser.parse_args(argv)
    ws_path = Path(args.workspace).resolve()
    try:
        work(ws_path, args.device, stay=args.stay)
    except Exception as e:  # noqa: BLE001 - one line in the worker log, not a traceback, for a storage error
        from workbench.store import WorkspaceError

        message = str(e) if isinstance(e, WorkspaceError) else describe(e, ws_path)
        if message is None:
            raise
        _say(f"stopped: {message}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
