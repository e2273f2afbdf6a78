"""Reliability under random kills and bad input (issue 15): nothing lost, resumes exact, errors clean.

    nice -n 10 .venv/bin/python bench/reliability.py --worker-kills 54 --foreground-kills 54 --seed 1

On generated data in a temporary workspace (no ../shared needed), against one uninterrupted
reference run of the same tiny experiment (``workbench run`` in a subprocess):

1. worker kills: a run is queued and trained by a real background worker (``launcher.submit`` and
   ``launcher.start_worker``) that is SIGKILLed; the dead worker is detected (``queue.reap_dead``)
   and the run resumed in this process to its end;
2. foreground kills: ``workbench run`` in a subprocess is SIGKILLed, then reaped and resumed;
   ``--foreground-terms`` more are stopped with SIGTERM (they must end ``cancelled``);
3. cancel-then-resume: a cancel at a random step, then resume;
4. bad experiment files and bad import files, each through the real CLI.

Each kill of 1 and 2 is one of three kinds, in turn (``--kinds``): ``random`` (SIGKILL from outside
at a random moment after the run's job was claimed or its row created, within the reference run's
time from its row to its end: data loading, steps, validation, writes), ``checkpoint`` (the process SIGKILLs itself at a random line of a
``save_checkpoint`` call) and ``metrics`` (at a random line of an epoch's metric-row write or of a
per-user metrics write). The targeted kills use ``bench/killpoints/sitecustomize.py``, which
Python loads in the child when its folder is on PYTHONPATH: the kill point (call and line) is
drawn from the line events counted in the reference run, half of them over Workbench's own lines,
half over all lines including those of ``torch.save`` and the sqlite wrappers, and every landed
kill reports its file:line.

Counted per kill: the run lost (not completed after the resume), a metric row seen after the kill
missing or changed after the resume, test metrics of the resumed run different from the reference
(not bit-identical), ``PRAGMA integrity_check`` not ok. For 4: how many gave a one-line ``Error:``
with no traceback and left the workspace file byte-identical (WAL merged first).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KILLPOINTS = Path(__file__).resolve().parent / "killpoints"
sys.path.insert(0, str(REPO / "tests"))

from integrity_helpers import CLI, CSV_MAP, tiny_experiment, write_experiment, write_ratings  # noqa: E402

EPOCHS = 4
KINDS = ("random", "checkpoint", "metrics")


def comparable(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not k.endswith("_s")}


def query(db_path: Path, sql: str, args=()) -> list[tuple]:
    conn = sqlite3.connect(db_path, timeout=60)
    try:
        return [tuple(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def epoch_rows(db_path: Path, run_id: int) -> list[tuple]:
    """(epoch, train loss, metrics without timings): an epoch re-run by a resume rewrites its row with
    the same values but its own timings (``forward_s``, ...), which are not compared."""
    rows = query(db_path, "SELECT epoch, train_loss, metrics FROM epoch_metrics WHERE run_id = ? ORDER BY epoch",
                 [run_id])
    return [(e, loss, json.dumps(comparable(json.loads(m)), sort_keys=True)) for e, loss, m in rows]


def run_status(db_path: Path, run_id: int) -> str | None:
    rows = query(db_path, "SELECT status FROM runs WHERE id = ?", [run_id])
    return rows[0][0] if rows else None


def max_run(db_path: Path) -> int:
    return query(db_path, "SELECT COALESCE(MAX(id), 0) FROM runs")[0][0]


def integrity_ok(db_path: Path) -> bool:
    return query(db_path, "PRAGMA integrity_check")[0][0] == "ok"


def wait(fn, timeout=600.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.02)
    return False


class Tally:
    def __init__(self):
        self.kills = self.mid_run = self.runs_lost = self.rows_lost = self.not_identical = self.integrity = 0
        self.missed = 0                 # a targeted kill that did not happen (counted separately, not a kill)
        self.cancelled = 0              # SIGTERM: runs that ended `cancelled` by themselves
        self.where: Counter = Counter()  # file:line of the targeted kills that landed

    def check(self, ws_path: Path, run_id: int, before: list[tuple], resumed: dict, reference: dict,
              mid_run: bool) -> None:
        self.kills += 1
        self.mid_run += mid_run
        if run_status(ws_path, run_id) != "completed":
            self.runs_lost += 1
        kept = {r[0]: r for r in epoch_rows(ws_path, run_id)}
        if any(kept.get(r[0]) != r for r in before):
            self.rows_lost += 1
        if comparable(resumed) != reference:
            self.not_identical += 1
        if not integrity_ok(ws_path):
            self.integrity += 1

    def summary(self) -> dict:
        out = {k: v for k, v in vars(self).items() if k != "where"}
        out["distinct_kill_lines"] = len(self.where)
        out["kill_lines"] = dict(self.where.most_common())
        return out


class Bench:
    def __init__(self, ws_path: Path, folder: Path, rng: random.Random):
        self.ws_path, self.folder, self.rng = ws_path, folder, rng
        self.marks = folder / "kill-marks.txt"
        self.exp = write_experiment(folder / "tiny.toml", tiny_experiment(EPOCHS))
        self.reference: dict = {}
        self.reference_s = 0.0      # the reference `workbench run`, start to exit
        self.reference_span = 0.0   # its run row, created to finished: the window of a random kill
        self.lines: dict[str, list[tuple[int, int]]] = {}   # target -> per call (workbench lines, all lines)

    # ---------------------------------------------------------------- child processes
    def child_env(self, kill_at: str | None = None, count: bool = False) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WB_KILL")}
        env["PYTHONUNBUFFERED"] = "1"
        if kill_at or count:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(KILLPOINTS), env.get("PYTHONPATH")]))
            env["WB_KILL_MARKS"] = str(self.marks)
            env["WB_KILL_AT" if kill_at else "WB_KILL_COUNT"] = kill_at or "1"
        return env

    def foreground(self, env: dict) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", CLI, "--workspace", str(self.ws_path), "run", str(self.exp)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)

    def reference_run(self) -> None:
        """The uninterrupted run (counting the line events of the targets' calls on the way)."""
        self.marks.unlink(missing_ok=True)
        first = max_run(self.ws_path)
        started = time.monotonic()
        proc = self.foreground(self.child_env(count=True))
        _, err = proc.communicate()
        self.reference_s = time.monotonic() - started
        run_id = max_run(self.ws_path)
        if proc.returncode != 0 or run_id == first or run_status(self.ws_path, run_id) != "completed":
            raise SystemExit(f"the reference run failed: {err[-2000:]}")
        self.reference = self.test_metrics(run_id)
        created, finished = query(self.ws_path, "SELECT created_at, finished_at FROM runs WHERE id = ?", [run_id])[0]
        self.reference_span = finished - created
        for line in self.marks.read_text().splitlines():
            _, target, _call, wb, every = line.split()
            self.lines.setdefault(target, []).append((int(wb), int(every)))

    def test_metrics(self, run_id: int) -> dict:
        return comparable(json.loads(query(self.ws_path, "SELECT test_metrics FROM runs WHERE id = ?", [run_id])[0][0]))

    def draw_kill_point(self, target: str) -> str:
        calls = self.lines[target]
        call = self.rng.randrange(len(calls))
        scope = self.rng.choice(("workbench", "all"))
        count = calls[call][0 if scope == "workbench" else 1]
        return f"{target}:{scope}:{call + 1}:{self.rng.randint(1, max(count, 1))}"

    def landed(self, tally: Tally, proc: subprocess.Popen) -> bool:
        """Whether a targeted kill happened (the child died of SIGKILL after writing its mark)."""
        marks = self.marks.read_text().splitlines() if self.marks.exists() else []
        if proc.returncode != -signal.SIGKILL or not marks:
            tally.missed += 1
            return False
        tally.where[marks[-1].split()[-1]] += 1
        return True

    # ---------------------------------------------------------------- after a kill
    def recover(self, tally: Tally, run_id: int) -> None:
        from workbench.engine.runner import execute_run
        from workbench.jobs import queue
        from workbench.store import open_workspace
        before = epoch_rows(self.ws_path, run_id)
        with open_workspace(self.ws_path) as ws:
            queue.reap_dead(ws)
        status = run_status(self.ws_path, run_id)
        if status == "completed":
            resumed = self.test_metrics(run_id)
        else:
            resumed = execute_run(self.ws_path, run_id, resume=True)
        tally.check(self.ws_path, run_id, before, resumed, self.reference, mid_run=status != "completed")

    # ---------------------------------------------------------------- 1. workers
    def worker_kill(self, tally: Tally, kind: str) -> None:
        from workbench.engine.runner import create_run
        from workbench.jobs import launcher
        from workbench.store import open_workspace
        with open_workspace(self.ws_path) as ws:
            run_id = create_run(ws, tiny_experiment(EPOCHS))
            job = launcher.submit(ws, run_id, "cpu", start=False)
        self.marks.unlink(missing_ok=True)
        saved = dict(os.environ)
        env = self.child_env(None if kind == "random" else self.draw_kill_point(kind))   # from os.environ
        os.environ.clear()
        os.environ.update(env)
        try:
            worker = launcher.start_worker(self.ws_path, "cpu")     # the real launcher, as `workbench run --bg`
        finally:
            os.environ.clear()
            os.environ.update(saved)
        if kind == "random":
            wait(lambda: worker.poll() is not None
                 or query(self.ws_path, "SELECT status FROM jobs WHERE id = ?", [job])[0][0] != "queued")
            time.sleep(self.rng.uniform(0.0, self.reference_span))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        else:
            worker.wait(timeout=900)
            if not self.landed(tally, worker):
                return
        self.recover(tally, run_id)

    # ---------------------------------------------------------------- 2. foreground runs
    def foreground_kill(self, tally: Tally, kind: str, sig: int = signal.SIGKILL) -> None:
        first = max_run(self.ws_path)
        self.marks.unlink(missing_ok=True)
        proc = self.foreground(self.child_env(None if kind == "random" else self.draw_kill_point(kind)))
        if kind == "random":
            wait(lambda: proc.poll() is not None or max_run(self.ws_path) > first)
            time.sleep(self.rng.uniform(0.0, self.reference_span))
            proc.send_signal(sig)
            proc.communicate()
        else:
            proc.communicate(timeout=900)
        run_id = max_run(self.ws_path)
        if run_id == first:
            tally.missed += 1
            return
        if kind != "random" and not self.landed(tally, proc):
            return
        if sig == signal.SIGTERM and proc.returncode == 128 + sig:
            tally.cancelled += run_status(self.ws_path, run_id) == "cancelled"
        self.recover(tally, run_id)

    # ---------------------------------------------------------------- 3. cancel then resume
    def cancel_then_resume(self) -> bool:
        from workbench.engine import trainer
        from workbench.engine.runner import create_run, execute_run
        from workbench.store import open_workspace
        trainer.PROGRESS_EVERY_S = 0.0          # should_stop is polled after every step
        with open_workspace(self.ws_path) as ws:
            run_id = create_run(ws, tiny_experiment(EPOCHS))
        stop_at, polls = self.rng.randrange(1, 40), iter(range(10**9))
        execute_run(self.ws_path, run_id, should_stop=lambda: next(polls) >= stop_at)
        cancelled = run_status(self.ws_path, run_id) == "cancelled"
        return cancelled and comparable(execute_run(self.ws_path, run_id, resume=True)) == self.reference


def file_digest(path: Path) -> str:
    conn = sqlite3.connect(path)   # merge the WAL first, so the main file alone is the state
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line_error(proc: subprocess.CompletedProcess) -> bool:
    return (proc.returncode != 0 and "Traceback" not in proc.stderr
            and any(ln.startswith("Error:") for ln in proc.stderr.splitlines()))


BAD_EXPERIMENTS = {
    "lr_nan": 'name = "x"\ndataset = "r"\n[[views]]\ntype = "sasrec"\n[head]\ntype = "softmax_ce"\n[trainer]\nlr = nan\n',
    "lr_inf": 'name = "x"\ndataset = "r"\n[[views]]\ntype = "sasrec"\n[head]\ntype = "softmax_ce"\n[trainer]\nlr = inf\n',
    "dim_huge": {"model": {"dim": 100_000_000, "max_len": 12}},
    "epochs_huge": {"trainer": {"epochs": 1_000_000_000}},
    "unknown_view": {"views": [{"type": "no_such_view"}]},
    "unknown_key": {"trainr": {}},
    "no_head": {"head": None},
    "bad_toml": 'name = "x\n',
    "latin1": b'name = "caf\xe9"\n',
    "no_dataset": {"dataset": "nope"},
    "batch_zero": {"trainer": {"batch_size": 0}},
    "temporal_frac": {"split": {"kind": "temporal", "valid_frac": 3}},
    "unknown_monitor": {"trainer": {"monitor": "NDCG@11"}},
    "monitor_not_evaluated": {"trainer": {"monitor": "Coverage@10"}},
    "negative_epochs": {"trainer": {"epochs": -1}},
    "lr_string": {"trainer": {"lr": "fast"}},
}

BAD_IMPORTS = {
    "missing_column": "user,item\n1,2\n",
    "nan_time": "u,i,t\n1,2,nan\n",
    "inf_time": "u,i,t\n1,2,1\n1,3,inf\n",
    "huge_time": "u,i,t\n1,2,1\n1,3,1e300\n",
    "negative_time": "u,i,t\n1,2,1\n1,3,-1e12\n",
    "empty": "u,i,t\n",
    "text_item_time": "u,i,t\n1,2,yesterday\n",
    "binary": bytes(range(256)) * 4,
    "short_row": "u,i,t\n1,2\n",
    "latin1_header": b"u,i,t\xe9\n1,2,3\n",
}


def experiment_file(folder: Path, name: str, spec) -> Path:
    path = folder / f"{name}.toml"
    if isinstance(spec, bytes):
        path.write_bytes(spec)
    elif isinstance(spec, str):
        path.write_text(spec)
    else:
        config = tiny_experiment(1)
        for key, value in spec.items():
            if value is None:
                config.pop(key, None)
            elif isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
        write_experiment(path, config)
    return path


def bad_inputs(ws_path: Path, folder: Path) -> dict:
    def clean(args: list[str]) -> bool:
        before = file_digest(ws_path)
        proc = subprocess.run([sys.executable, "-c", CLI, "--workspace", str(ws_path), *args],
                              capture_output=True, text=True, timeout=300)
        return one_line_error(proc) and file_digest(ws_path) == before

    exp_ok = [name for name, spec in BAD_EXPERIMENTS.items()
              if clean(["run", str(experiment_file(folder, name, spec))])]
    imp_ok = []
    for name, content in BAD_IMPORTS.items():
        path = folder / f"{name}.csv"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        if clean(["data", "import", str(path), "--name", f"bad_{name}", "--format", "csv", "--map", CSV_MAP]):
            imp_ok.append(name)
    return {"experiments": {"tried": len(BAD_EXPERIMENTS), "clean": len(exp_ok),
                            "not_clean": sorted(set(BAD_EXPERIMENTS) - set(exp_ok))},
            "imports": {"tried": len(BAD_IMPORTS), "clean": len(imp_ok),
                        "not_clean": sorted(set(BAD_IMPORTS) - set(imp_ok))}}


def progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.1f}: {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-kills", type=int, default=9, help="SIGKILLs of background workers")
    parser.add_argument("--foreground-kills", type=int, default=9, help="SIGKILLs of foreground `workbench run`")
    parser.add_argument("--foreground-terms", type=int, default=3, help="SIGTERMs of foreground runs")
    parser.add_argument("--cancels", type=int, default=3, help="cancel-then-resume trials")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help="kill kinds to cycle through (random, checkpoint, metrics)")
    parser.add_argument("--no-bad-input", action="store_true", help="skip part 4 (bad experiment and import files)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    from workbench.data.importer import import_path
    from workbench.store import open_workspace
    started = time.time()
    load = [os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="wb-reliability-") as tmp:
        folder = Path(tmp)
        ws_path = folder / "ws.db"
        with open_workspace(ws_path, create=True) as ws:
            import_path(ws, write_ratings(folder / "r.csv", users=150, items=60, per_user=16), name="r", fmt="csv",
                        reader_options={"map": CSV_MAP})
        bench = Bench(ws_path, folder, rng)
        bench.reference_run()
        tallies = {f"{where} {kind}": Tally() for where in ("worker", "foreground") for kind in KINDS}
        tallies["foreground SIGTERM"] = Tally()
        progress(f"reference run: {bench.reference_s:.1f} s ({bench.reference_span:.1f} s from its row to its end), "
                 f"line events per call {bench.lines}")
        kinds = args.kinds.split(",")
        for i in range(args.worker_kills):
            kind = kinds[i % len(kinds)]
            bench.worker_kill(tallies[f"worker {kind}"], kind)
            load.append(os.getloadavg())
            progress(f"worker kill {i + 1}/{args.worker_kills} ({kind}): {tallies[f'worker {kind}'].summary()}")
        for i in range(args.foreground_kills):
            kind = kinds[i % len(kinds)]
            bench.foreground_kill(tallies[f"foreground {kind}"], kind)
            load.append(os.getloadavg())
            progress(f"foreground kill {i + 1}/{args.foreground_kills} ({kind}): "
                     f"{tallies[f'foreground {kind}'].summary()}")
        for _ in range(args.foreground_terms):
            bench.foreground_kill(tallies["foreground SIGTERM"], "random", signal.SIGTERM)
        cancels = [bench.cancel_then_resume() for _ in range(args.cancels)]
        bad = {} if args.no_bad_input else bad_inputs(ws_path, folder)
    sigkills = sum(t.kills for name, t in tallies.items() if "SIGTERM" not in name)
    failures = sum(t.runs_lost + t.rows_lost + t.not_identical + t.integrity for t in tallies.values())
    out = {"reference": {"test_metrics": bench.reference, "seconds": round(bench.reference_s, 1),
                         "row_to_end_seconds": round(bench.reference_span, 1),
                         "line_events_per_call": bench.lines},
           "kills": {name: t.summary() for name, t in tallies.items()},
           "sigkills_landed": sigkills, "failures": failures,
           "cancel_then_resume_identical": f"{sum(cancels)}/{len(cancels)}",
           "bad_input": bad, "seconds": round(time.time() - started, 1),
           "load_min_max": [round(min(x[0] for x in load), 1), round(max(x[0] for x in load), 1)]}
    print(json.dumps(out, indent=2))
    clean = all(part["clean"] == part["tried"] for part in bad.values())
    return 0 if failures == 0 and all(cancels) and clean else 1


if __name__ == "__main__":
    sys.exit(main())
