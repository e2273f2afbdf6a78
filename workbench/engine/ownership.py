"""The trainer's side of the run owner lease (see :mod:`workbench.store.leases`).

:class:`Ownership` takes the lease of a run for this process, keeps its heartbeat fresh from a
thread on its own connection, and notices when another trainer took the run over (then
``lost`` is set, the trainer stops at its next poll, and every fenced write raises LeaseLost).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from workbench.store import leases


class Ownership:
    def __init__(self, ws, run_id: int):
        self.run_id = run_id
        self.ws_path = Path(ws.path)
        self.token = leases.acquire(ws, run_id, os.getpid())
        self.lost = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"lease-{run_id}")
        self._thread.start()

    def _beat(self) -> None:
        from workbench.store import open_workspace

        ws = open_workspace(self.ws_path)
        try:
            while not self._done.wait(leases.HEARTBEAT_S):
                try:
                    if not leases.beat(ws, self.run_id, self.token):
                        self.lost = True
                        return
                except Exception as e:  # noqa: BLE001 - a locked database for a moment must not stop training
                    try:
                        print(f"workbench: lease heartbeat of run {self.run_id} failed: {e}", file=sys.stderr)
                    except OSError:   # stderr on a full disk
                        pass
        finally:
            ws.close()

    def release(self, ws) -> None:
        self._done.set()
        self._thread.join(timeout=10)
        try:
            leases.release(ws, self.run_id, self.token)
        except Exception as e:  # noqa: BLE001 - a lease left behind is released by the next acquire (pid gone)
            print(f"workbench: could not release the lease of run {self.run_id}: {e}", file=sys.stderr)
