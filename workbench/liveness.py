"""Is a process alive? Used by the job reaper and the run owner lease (torch-free, no SQL).

A pid alone does not name a process: once it exits, the kernel may give the same pid to a new,
unrelated process. So the store keeps, next to every pid, the process's start time
(:func:`process_started`), and :func:`pid_alive` with ``started`` counts a process whose start
time differs as gone.
"""

from __future__ import annotations

import os
import socket


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` from field 3 (state) on, None when unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()   # the command name (field 2) may hold spaces and ')'
    except (OSError, IndexError):
        return None


def process_started(pid: int | None) -> float | None:
    """When process ``pid`` started, as a number that differs between two processes that held the
    same pid; None when unknown (no such process, or no way to tell on this system).

    Linux: field 22 of ``/proc/PID/stat`` (clock ticks since boot). Elsewhere: psutil's create
    time when psutil is installed. Only compared with values taken on the same host.
    """
    if not pid:
        return None
    if os.path.isdir("/proc/self"):
        fields = _proc_stat(pid)
        try:
            return float(fields[19]) if fields else None   # field 22 is the 20th from field 3
        except (IndexError, ValueError):
            return None
    try:
        import psutil
    except ImportError:
        return None
    try:
        return float(psutil.Process(pid).create_time())
    except Exception:  # noqa: BLE001 - NoSuchProcess, AccessDenied: unknown
        return None


def pid_alive(pid: int | None, started: float | None = None) -> bool:
    """True when process ``pid`` exists on this host and is not a zombie; with ``started`` (its
    :func:`process_started` when it was recorded), also when it is that same process, not a new
    one that got the pid after it exited."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _proc_stat(pid)
    if fields and fields[0] in ("Z", "X"):  # a killed child its parent has not waited for yet: dead for us
        return False
    if started is not None:
        now = process_started(pid)
        if now is not None and now != started:
            return False   # the pid was reused by another process
    return True


def this_host() -> str:
    return socket.gethostname()
