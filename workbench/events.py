"""Progress events: the one interface between a training run and whoever watches it.

The trainer calls ``emit(Event(...))`` on every listener. The CLI renders a
progress bar from them, the run recorder writes them to the workspace, and the
background worker/TUI read them back from there. Events are plain data
(JSON-serialisable ``data``) so they can cross process boundaries.

Kinds and their ``data``:

- ``run_started``: {run_id, device, epochs, steps_per_epoch, num_params}
- ``epoch_started``: {epoch}
- ``step``: {epoch, step, steps, loss, samples_per_s, eta_s, memory_mb}  (throttled, ~1/s)
- ``epoch_finished``: {epoch, train_loss, metrics, wall_time, best_epoch, lr}
- ``log``: {message}
- ``run_finished``: {status, test_metrics, best_epoch}
- ``run_failed``: {error}
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

EVENT_KINDS = ("run_started", "epoch_started", "step", "epoch_finished", "log", "run_finished", "run_failed")


@dataclass
class Event:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)

    def __post_init__(self):
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")


class Listener(Protocol):
    def __call__(self, event: Event) -> None: ...


class Emitter:
    """Fans events out to listeners; a failing listener is reported once and dropped, never kills the run."""

    def __init__(self, listeners: list[Callable[[Event], None]] | None = None,
                 required: list[Callable[[Event], None]] | tuple = ()):
        self.listeners = list(listeners or [])
        self.required = list(required)   # their errors propagate (the run's own recorder)

    def add(self, listener: Callable[[Event], None]) -> None:
        self.listeners.append(listener)

    def emit(self, kind: str, **data: Any) -> None:
        event = Event(kind, data)
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception as e:  # noqa: BLE001 - a watcher must not kill training
                if any(listener is r for r in self.required):
                    raise
                import sys
                print(f"workbench: progress listener {listener!r} failed and was removed: {e}", file=sys.stderr)
                self.listeners.remove(listener)
