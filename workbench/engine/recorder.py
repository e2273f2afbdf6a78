"""RunRecorder: a progress listener that writes a run's events into the workspace as they happen."""

from __future__ import annotations

import json
import math
import time

from workbench.events import Event
from workbench.store import runs
from workbench.store.leases import fenced


def _clean(obj):
    """JSON-safe: non-finite floats become None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def dumps(obj) -> str:
    return json.dumps(_clean(obj), default=str)


class RunRecorder:
    """Writes ``epoch_finished`` to ``epoch_metrics``, throttled ``step`` snapshots to ``runs.progress``
    (at most one write per ``throttle_s``), and every other event to ``run_events``."""

    def __init__(self, ws, run_id: int, throttle_s: float = 1.0, token: int | None = None):
        self.ws, self.run_id, self.throttle_s = ws, run_id, throttle_s
        self.token = token    # the run owner lease: every write is refused once another trainer took the run
        self._last_progress = 0.0

    def _progress(self, data: dict) -> None:
        with fenced(self.ws, self.run_id, self.token) as conn:
            runs.set_progress(conn, self.run_id, dumps(data))

    def _event(self, event: Event, level: str, message: str) -> None:
        with fenced(self.ws, self.run_id, self.token) as conn:
            runs.add_event(conn, self.run_id, event.ts, level, event.kind, message, dumps(event.data))

    def __call__(self, event: Event) -> None:
        d = event.data
        if event.kind == "step":
            now = time.monotonic()
            if now - self._last_progress >= self.throttle_s:
                self._last_progress = now
                self._progress({"phase": "train", **d, "ts": event.ts})
            return
        if event.kind == "epoch_finished":
            with fenced(self.ws, self.run_id, self.token) as conn:
                runs.record_epoch(conn, self.run_id, d["epoch"], _clean(d.get("train_loss")),
                                  dumps(d.get("metrics", {})), d.get("wall_time"), event.ts)
            self._progress({"phase": "epoch", **d, "ts": event.ts})
            metrics = ", ".join(f"{k} {v:.4f}" for k, v in d.get("metrics", {}).items()
                                if isinstance(v, float) and not k.endswith("_s"))[:300]
            loss = d.get("train_loss")
            loss_s = f"{loss:.4f}" if isinstance(loss, float) else "-"
            self._event(event, "info", f"epoch {d['epoch']}: loss {loss_s}; {metrics}; {d.get('wall_time', 0):.1f}s")
            return
        if event.kind == "run_failed":
            self._event(event, "error", str(d.get("error", "failed")).strip().splitlines()[-1][:500])
            return
        message = {"run_started": lambda: f"started on {d.get('device')} ({d.get('num_params', 0):,} parameters)",
                   "epoch_started": lambda: f"epoch {d.get('epoch')} started",
                   "log": lambda: str(d.get("message", "")),
                   "run_finished": lambda: f"{d.get('status')}; test {d.get('test_metrics')}"}
        level = "debug" if event.kind == "epoch_started" else "info"
        self._event(event, level, message.get(event.kind, lambda: event.kind)()[:1000])
