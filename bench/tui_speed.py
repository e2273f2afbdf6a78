"""The app's speed on a workspace with 6 completed runs: first paint, screen switches, Inspect of a user.

Usage (from the repository root):

    nice -n 10 .venv/bin/python bench/tui_speed.py [--workspace PATH] [--run ID] [--paints 5] [--cycles 3] [--users 10]

When ``--workspace`` is not given, or names a file that does not exist yet, it builds one there (else in
a temporary folder): the generated demo dataset (1000 users, 800 items) and 6 runs trained for one epoch
each through the real engine (5 SASRec, the sixth SASRec + GRU joined by the attention fusion). Inspect
uses ``--run`` (default: the newest completed run). It measures:

1. **first paint**: :func:`tui_startup.first_paint` on that workspace (fresh interpreters running
   ``run_app``, headless 80x24, spawn -> Textual's ``Ready`` after the first frame; 1 warm-up);
2. **screen switches**: one headless app (80x24); the seven screen keys pressed in turn ``--cycles``
   times, each timed from the key press to the end of the new screen's reload (the data it shows
   read from the workspace). A screen's first visit (it is built then) is reported apart;
3. **Inspect**: from pressing ``i`` (screen not built yet; it shows the first user of the newest run on
   arrival) to that user's 10 recommendations on screen and to the explanation of the top one (torch import and the model's
   load included: once per run); then ``--users`` times ``ctrl+n`` (the next user), from the key to
   the recommendations and to the top item's explanation. The model is loaded in a worker thread:
   the screen keeps answering keys meanwhile.

Timestamps are taken inside the app (end of ``safe_reload``, of ``InspectScreen._show_recs`` and
``_show_why``) by wrapping those methods in this script only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAMPS: list[tuple[str, float]] = []          # (what, perf_counter) recorded inside the app


def build_workspace(path: Path) -> None:
    """The demo dataset and 6 one-epoch runs in a new workspace at ``path``."""
    from workbench.data.demo import ensure_demo_workspace
    from workbench.engine.runner import create_run, execute_run

    base = {"dataset": "demo", "model": {"dim": 32, "max_len": 50}, "fusion": {"type": "identity"},
            "head": {"type": "softmax_ce"}, "evaluators": [{"type": "ranking", "ks": [10], "metrics": ["HR", "NDCG"]}],
            "trainer": {"epochs": 1, "batch_size": 64, "patience": 0, "device": "cpu", "threads": 1}}
    configs = [{**base, "name": f"sasrec-{k}", "views": [{"type": "sasrec", "blocks": 1}],
                "trainer": {**base["trainer"], "seed": k}} for k in range(1, 6)]
    configs.append({**base, "name": "sasrec+gru", "views": [{"type": "sasrec", "blocks": 1}, {"type": "gru"}],
                    "fusion": {"type": "attention"}})
    ws = ensure_demo_workspace(str(path))
    try:
        ids = [create_run(ws, c) for c in configs]
    finally:
        ws.close()
    for run_id in ids:
        execute_run(path, run_id)


def newest_completed(path: Path) -> int:
    from workbench.store import open_workspace, runs

    with open_workspace(path) as ws:
        done = runs.completed_list(ws)
    if not done:
        raise SystemExit(f"{path} has no completed run to inspect")
    return done[0]["id"]


def instrument() -> None:
    """Record when a screen finished reading its data and when Inspect showed an answer."""
    from workbench.tui.screens.base import WorkbenchScreen
    from workbench.tui.screens.inspect import InspectScreen

    def stamped(method, what):
        def wrapper(self, *args, **kwargs):
            out = method(self, *args, **kwargs)
            STAMPS.append((what(self), time.perf_counter()))
            return out
        return wrapper

    WorkbenchScreen.safe_reload = stamped(WorkbenchScreen.safe_reload, lambda s: f"reload:{s.MODE}")
    InspectScreen._show_recs = stamped(InspectScreen._show_recs, lambda s: f"recs:{s.answers}")
    InspectScreen._show_why = stamped(InspectScreen._show_why, lambda s: f"why:{s.explanations}")


async def until_stamp(pilot, start: int, what: str, timeout: float = 300.0) -> float:
    """The time of the first stamp ``what`` recorded after index ``start`` (waits for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, t in STAMPS[start:]:
            if name == what:
                return t
        await pilot.pause(0.005)
    raise TimeoutError(f"no {what} within {timeout} s")


async def drive(ws: Path, run_id: int, cycles: int, users: int) -> dict:
    from textual.widgets import Select

    from workbench.tui.app import WorkbenchApp
    from workbench.tui.screen_list import SCREENS

    app = WorkbenchApp(ws)
    first_visit, switches, inspect = {}, [], {}
    async with app.run_test(size=(80, 24)) as pilot:
        await until_stamp(pilot, 0, "reload:runs")
        order = [s for s in SCREENS if s.mode != "inspect"]          # Inspect is timed below, first visit included
        order = order[1:] + order[:1]                                 # runs is shown: start with the next one
        for _ in range(cycles):
            for info in order:
                app.screen.set_focus(None)
                start, t0 = len(STAMPS), time.perf_counter()
                await pilot.press(info.key)
                took = await until_stamp(pilot, start, f"reload:{info.mode}") - t0
                (switches.append(took) if info.mode in first_visit else first_visit.setdefault(info.mode, took))
                await pilot.pause(0.2)                                 # let timers and pollers settle
        # Inspect: i, pick the run, enter on the first user
        app.screen.set_focus(None)
        start, t0 = len(STAMPS), time.perf_counter()
        await pilot.press("i")
        await until_stamp(pilot, start, "reload:inspect")
        screen = app.screen
        if screen.query_one("#inspect-run", Select).value != run_id:       # not the newest: pick it
            screen.query_one("#inspect-run", Select).value = run_id
        inspect["first_recs"] = await until_stamp(pilot, start, "recs:1") - t0      # the first user, shown on arrival
        inspect["first_why"] = await until_stamp(pilot, start, "why:1") - t0
        recs, whys = [], []
        for _ in range(users):
            screen.set_focus(None)
            answers, explanations = screen.answers, screen.explanations
            start, t0 = len(STAMPS), time.perf_counter()
            await pilot.press("ctrl+n")
            recs.append(await until_stamp(pilot, start, f"recs:{answers + 1}") - t0)
            whys.append(await until_stamp(pilot, start, f"why:{explanations + 1}") - t0)
            await pilot.pause(0.1)
        inspect["recs"], inspect["why"], inspect["device"] = recs, whys, screen.keeper()._run.device
    return {"first_visit": first_visit, "switches": switches, "inspect": inspect}


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip().split("load average:")[-1].strip()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", default=None, help="a workspace (built there when missing)")
    parser.add_argument("--run", type=int, default=None, help="the completed run to inspect (default: the newest)")
    parser.add_argument("--paints", type=int, default=5)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--users", type=int, default=10)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from tui_startup import first_paint, paint_summary

    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(args.workspace) if args.workspace else Path(tmp) / "six-runs.db"
        if not ws.exists():
            t = time.perf_counter()
            build_workspace(ws)
            print(f"built {ws}: 6 runs in {time.perf_counter() - t:.0f} s", flush=True)
        run_id = args.run if args.run is not None else newest_completed(ws)
        before = load()
        walls, inproc, torch_seen = first_paint(str(ws), args.paints)
        instrument()
        out = asyncio.run(drive(ws, run_id, args.cycles, args.users))
        after = load()
    med = statistics.median
    sw, first, ins = out["switches"], out["first_visit"], out["inspect"]
    print(f"load average (1, 5, 15 min) before: {before}; after: {after}")
    print(f"first paint ({args.paints} fresh interpreters, after 1 warm-up): {paint_summary(walls, inproc, torch_seen)}")
    print(f"screen switch ({len(sw)} switches, {args.cycles} cycles over {len(first)} screens): median {med(sw):.3f} s "
          f"(min {min(sw):.3f}, max {max(sw):.3f}); first visits: "
          + ", ".join(f"{m} {t:.3f}" for m, t in first.items()))
    print(f"inspect, first user (from the i key; torch import and model load included; model on {ins['device']}): "
          f"recommendations {ins['first_recs']:.3f} s, their explanation {ins['first_why']:.3f} s")
    print(f"inspect, next user ({len(ins['recs'])} x ctrl+n): recommendations median {med(ins['recs']):.3f} s "
          f"(max {max(ins['recs']):.3f}); with the top item's explanation median {med(ins['why']):.3f} s "
          f"(max {max(ins['why']):.3f})")
    return 1 if torch_seen else 0


if __name__ == "__main__":
    sys.exit(main())
