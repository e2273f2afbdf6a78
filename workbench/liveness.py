"""Is a process alive? Used by the job reaper and the run owner lease (torch-free, no SQL)."""

from __future__ import annotations

import os
import socket


def pid_alive(pid: int | None) -> bool:
    """True when process ``pid`` exists on this host and is not a zombie."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child that its parent has not waited for yet is a zombie: dead for us
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def this_host() -> str:
    return socket.gethostname()
