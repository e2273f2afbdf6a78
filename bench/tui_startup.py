"""Time from `python` start to the TUI's first painted frame, and check torch stayed unimported.

Usage: .venv/bin/python bench/tui_startup.py [--runs 5] [--workspace PATH]

Each run is a fresh interpreter calling ``run_app`` (what ``workbench`` with no
arguments calls) on a throw-away workspace (or ``--workspace``), headless,
80x24; it exits on Textual's ``Ready`` event (sent after the first frame is
displayed). Reports the wall-clock time from spawning the interpreter to that
moment (process exit and teardown not included), the in-process time from
before ``import workbench`` to it, and whether torch got imported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import sys, time, json
t0 = time.perf_counter()
from workbench.tui import app as app_module
seen = {}

def on_ready(self):  # Textual sends Ready once the first frame is on screen
    seen["first_paint"] = time.perf_counter() - t0
    seen["paint_epoch"] = time.time()
    seen["screen"] = type(self.screen).__name__
    self.exit()

app_module.WorkbenchApp.on_ready = on_ready
_run = app_module.WorkbenchApp.run
app_module.WorkbenchApp.run = lambda self: _run(self, headless=True, size=(80, 24))
app_module.run_app(sys.argv[1])  # the same path as `workbench` with no arguments
print(json.dumps({"in_process_s": seen["first_paint"], "paint_epoch": seen["paint_epoch"],
                  "torch_imported": "torch" in sys.modules,
                  "screen": seen["screen"]}))
"""


def first_paint(ws: str, runs: int) -> tuple[list[float], list[float], bool]:
    """(spawn->first frame seconds, in-process seconds, torch imported) of ``runs`` fresh interpreters on
    ``ws``, after one warm-up run (it warms the OS file cache and creates the workspace if missing)."""
    walls, inproc, torch_seen = [], [], False
    for _ in range(runs + 1):
        spawn = time.time()
        out = subprocess.run([sys.executable, "-c", CHILD, ws], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        rec = json.loads(out.stdout.strip().splitlines()[-1])
        walls.append(rec["paint_epoch"] - spawn)  # spawn -> first frame (exit and teardown excluded)
        inproc.append(rec["in_process_s"])
        torch_seen |= rec["torch_imported"]
    return walls[1:], inproc[1:], torch_seen


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workspace", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            walls, inproc, torch_seen = first_paint(args.workspace or str(Path(tmp) / "startup.db"), args.runs)
        except RuntimeError as e:
            print(e, file=sys.stderr)
            return 1
    print(f"TUI first paint over {args.runs} runs (after 1 warm-up): {paint_summary(walls, inproc, torch_seen)}")
    return 1 if torch_seen else 0


def paint_summary(walls: list[float], inproc: list[float], torch_seen: bool) -> str:
    return (f"spawn->first frame median {statistics.median(walls):.3f} s (min {min(walls):.3f}, "
            f"max {max(walls):.3f}); in-process median {statistics.median(inproc):.3f} s; torch imported: {torch_seen}")


if __name__ == "__main__":
    sys.exit(main())
