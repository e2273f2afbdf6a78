"""Fault injection for bench/reliability.py: SIGKILL this process at a chosen line of a checkpoint
save or a metric write (loaded by Python at start-up when this folder is on PYTHONPATH).

``WB_KILL_AT="TARGET:SCOPE:CALL:LINE"`` kills the process at the LINE-th traced line event (1-based)
of the CALL-th call (1-based) of TARGET; ``WB_KILL_COUNT=1`` instead counts the line events of each
call. TARGET is ``checkpoint`` (``save_checkpoint``) or ``metrics`` (the recorder's handling of an
``epoch_finished`` event: the epoch's metric row, progress and event; and each ``save_split`` of
per-user metrics). SCOPE ``workbench`` traces Workbench's own lines only; ``all`` also those of
the libraries they call (``torch.save``, sqlite3 wrappers). Before it dies the process appends
``TARGET CALL LINE file:lineno`` to ``WB_KILL_MARKS`` so the benchmark knows where the kill landed.
Without these variables nothing is changed.
"""

from __future__ import annotations

import os


def _install() -> None:
    spec = os.environ.get("WB_KILL_AT")
    counting = os.environ.get("WB_KILL_COUNT") == "1"
    if not spec and not counting:
        return
    import signal
    import sys

    from workbench.engine import recorder, session
    from workbench.store import user_metrics

    marks = os.environ["WB_KILL_MARKS"]
    target, scope, call, line = (spec.split(":") if spec else ("", "all", "0", "0"))
    call, line = int(call), int(line)
    calls = {"checkpoint": 0, "metrics": 0}
    root = os.path.dirname(os.path.dirname(session.__file__))   # the workbench package folder

    def traced(kind: str, fn, *args, **kwargs):
        calls[kind] += 1
        n = calls[kind]
        armed = kind == target and n == call
        if not (armed or counting):
            return fn(*args, **kwargs)
        seen = {"workbench": 0, "all": 0}

        def tracer(frame, event, arg):
            if event == "line":
                seen["all"] += 1
                if frame.f_code.co_filename.startswith(root):
                    seen["workbench"] += 1
                if armed and seen[scope] == line and (scope == "all" or frame.f_code.co_filename.startswith(root)):
                    with open(marks, "a") as f:
                        f.write(f"{kind} {n} {line} {frame.f_code.co_filename}:{frame.f_lineno}\n")
                    os.kill(os.getpid(), signal.SIGKILL)
            return tracer

        previous = sys.gettrace()
        sys.settrace(tracer)
        try:
            return fn(*args, **kwargs)
        finally:
            sys.settrace(previous)
            if counting:
                with open(marks, "a") as f:
                    f.write(f"count {kind} {n} {seen['workbench']} {seen['all']}\n")
            elif armed:   # fewer line events than drawn: die as the call returns (still inside it)
                with open(marks, "a") as f:
                    f.write(f"{kind} {n} {line} end-of-call\n")
                os.kill(os.getpid(), signal.SIGKILL)

    save_checkpoint = session.save_checkpoint
    session.save_checkpoint = lambda *a, **k: traced("checkpoint", save_checkpoint, *a, **k)
    record = recorder.RunRecorder.__call__

    def record_event(self, event):
        if event.kind != "epoch_finished":
            return record(self, event)
        return traced("metrics", record, self, event)

    recorder.RunRecorder.__call__ = record_event
    save_split = user_metrics.save_split
    user_metrics.save_split = lambda *a, **k: traced("metrics", save_split, *a, **k)


_install()
