"""Reliability under random kills and bad input (issue 15): nothing lost, resumes exact, errors clean.

    .venv/bin/python bench/reliability.py --worker-kills 10 --foreground-kills 10

On generated data in a temporary workspace (no ../shared needed):

1. worker kills: a run is trained by a real background worker (``launcher.submit``), SIGKILLed at a
   random moment (any phase: data loading, steps, validation, metric writes, checkpoint saves), the
   dead worker is detected (``queue.reap_dead``), and the run resumed in this process to the end;
2. foreground kills: ``workbench run`` in a subprocess, SIGKILLed (or SIGTERMed) at a random moment,
   then ``execute_run(..., resume=True)``;
3. cancel-then-resume: a cancel at a random step, then resume;
4. bad experiment files and bad import files, each through the real CLI.

Counted for 1-3, against one uninterrupted reference run of the same experiment: runs lost, metric
rows lost (an epoch row seen before the kill missing or changed after it), resumes whose test
metrics differ from the reference (not bit-identical), ``PRAGMA integrity_check`` failures. For 4:
how many gave a one-line ``Error:`` with no traceback and left the workspace file byte-identical.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from integrity_helpers import CLI, CSV_MAP, tiny_experiment, write_experiment, write_ratings  # noqa: E402

EPOCHS = 4


def comparable(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not k.endswith("_s")}


def epoch_rows(db_path: Path, run_id: int) -> list[tuple]:
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        return [tuple(r) for r in conn.execute("SELECT epoch, train_loss, metrics FROM epoch_metrics WHERE run_id = ? "
                                               "ORDER BY epoch", [run_id])]
    finally:
        conn.close()


def integrity_ok(db_path: Path) -> bool:
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


class Tally:
    def __init__(self):
        self.kills = self.runs_lost = self.rows_lost = self.not_identical = self.integrity = 0
        self.mid_run = 0      # kills that landed before the run had completed (the others hit a finished run)

    def check(self, ws_path: Path, run_id: int, before: list[tuple], resumed: dict, reference: dict) -> None:
        from workbench.store import open_workspace
        self.kills += 1
        with open_workspace(ws_path) as ws:
            row = ws.db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()
        if row is None or row[0] != "completed":
            self.runs_lost += 1
        after = epoch_rows(ws_path, run_id)
        kept = {r[0]: r for r in after}
        if any(kept.get(r[0]) != r for r in before):
            self.rows_lost += 1
        if comparable(resumed) != reference:
            self.not_identical += 1
        if not integrity_ok(ws_path):
            self.integrity += 1


def new_run(ws_path: Path) -> int:
    from workbench.engine.runner import create_run
    from workbench.store import open_workspace
    with open_workspace(ws_path) as ws:
        return create_run(ws, tiny_experiment(EPOCHS))


def wait(fn, timeout=300.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.05)
    return False


def worker_kills(ws_path: Path, n: int, reference: dict, rng: random.Random, tally: Tally) -> None:
    from workbench.engine.runner import execute_run
    from workbench.jobs import launcher, queue
    from workbench.store import open_workspace
    for _ in range(n):
        run_id = new_run(ws_path)
        with open_workspace(ws_path) as ws:
            job = launcher.submit(ws, run_id, "cpu", start=False)
        worker = launcher.start_worker(ws_path, "cpu")
        wait(lambda: queue.pid_alive(worker.pid) and _job_status(ws_path, job) != "queued")
        time.sleep(rng.uniform(0.0, 4.0))          # somewhere in the run (or after it, sometimes)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        before = epoch_rows(ws_path, run_id)
        with open_workspace(ws_path) as ws:
            queue.reap_dead(ws)
            status = ws.db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0]
        tally.mid_run += status != "completed"
        resumed = reference if status == "completed" else execute_run(ws_path, run_id, resume=True)
        if status == "completed":
            with open_workspace(ws_path) as ws:
                resumed = comparable(json.loads(ws.db.execute("SELECT test_metrics FROM runs WHERE id = ?",
                                                              [run_id]).fetchone()[0]))
        tally.check(ws_path, run_id, before, resumed, reference)


def _job_status(ws_path: Path, job: int) -> str:
    conn = sqlite3.connect(ws_path, timeout=30)
    try:
        return conn.execute("SELECT status FROM jobs WHERE id = ?", [job]).fetchone()[0]
    finally:
        conn.close()


def foreground_kills(ws_path: Path, exp: Path, n: int, reference: dict, rng: random.Random, tally: Tally) -> None:
    from workbench.engine.runner import execute_run
    from workbench.jobs import queue
    from workbench.store import open_workspace
    for i in range(n):
        with open_workspace(ws_path) as ws:
            before_ids = ws.db.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0]
        proc = subprocess.Popen([sys.executable, "-c", CLI, "--workspace", str(ws_path), "run", str(exp)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(lambda: _max_run(ws_path) > before_ids)
        time.sleep(rng.uniform(0.0, 4.0))
        proc.send_signal(signal.SIGKILL if i % 2 == 0 else signal.SIGTERM)
        proc.wait()
        run_id = _max_run(ws_path)
        before = epoch_rows(ws_path, run_id)
        with open_workspace(ws_path) as ws:
            queue.reap_dead(ws)
            status = ws.db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0]
        tally.mid_run += status != "completed"
        if status == "completed":
            with open_workspace(ws_path) as ws:
                resumed = comparable(json.loads(ws.db.execute("SELECT test_metrics FROM runs WHERE id = ?",
                                                              [run_id]).fetchone()[0]))
        else:
            resumed = execute_run(ws_path, run_id, resume=True)
        tally.check(ws_path, run_id, before, resumed, reference)


def _max_run(ws_path: Path) -> int:
    conn = sqlite3.connect(ws_path, timeout=30)
    try:
        return conn.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0]
    finally:
        conn.close()


def cancel_then_resume(ws_path: Path, reference: dict, rng: random.Random) -> bool:
    from workbench.engine import trainer
    from workbench.engine.runner import execute_run
    trainer.PROGRESS_EVERY_S = 0.0
    run_id = new_run(ws_path)
    stop_at, polls = rng.randrange(1, 40), iter(range(10**9))
    execute_run(ws_path, run_id, should_stop=lambda: next(polls) >= stop_at)
    return comparable(execute_run(ws_path, run_id, resume=True)) == reference


def file_digest(path: Path) -> str:
    conn = sqlite3.connect(path)   # merge the WAL first, so the main file alone is the state
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line_error(proc: subprocess.CompletedProcess) -> bool:
    return (proc.returncode != 0 and "Traceback" not in proc.stderr
            and any(ln.startswith("Error:") for ln in proc.stderr.splitlines()))


def bad_inputs(ws_path: Path, folder: Path) -> tuple[int, int, int, int]:
    base = tiny_experiment(1)
    experiments = {
        "lr_nan": 'name = "x"\ndataset = "r"\n[[views]]\ntype = "sasrec"\n[head]\ntype = "softmax_ce"\n[trainer]\nlr = nan\n',
        "lr_inf": 'name = "x"\ndataset = "r"\n[[views]]\ntype = "sasrec"\n[head]\ntype = "softmax_ce"\n[trainer]\nlr = inf\n',
        "dim_huge": json.dumps(base).replace('"dim": 8', '"dim": 100000000'),
        "epochs_huge": json.dumps(base).replace('"epochs": 1', '"epochs": 1000000000'),
        "unknown_view": json.dumps(base).replace('"sasrec"', '"no_such_view"'),
        "unknown_key": json.dumps({**base, "trainr": {}}),
        "no_head": json.dumps({k: v for k, v in base.items() if k != "head"}),
        "bad_toml": 'name = "x\n',
        "latin1": None,
        "no_dataset": json.dumps({**base, "dataset": "nope"}),
        "batch_zero": json.dumps(base).replace('"batch_size": 16', '"batch_size": 0'),
        "temporal_frac": json.dumps({**base, "split": {"kind": "temporal", "valid_frac": 3}}),
    }
    exp_ok = 0
    for name, text in experiments.items():
        path = folder / f"{name}.toml"
        if text is None:
            path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
        elif text.startswith("{"):
            write_experiment(path, json.loads(text))
        else:
            path.write_text(text)
        before = file_digest(ws_path)
        proc = subprocess.run([sys.executable, "-c", CLI, "--workspace", str(ws_path), "run", str(path)],
                              capture_output=True, text=True, timeout=300)
        exp_ok += one_line_error(proc) and file_digest(ws_path) == before
    imports = {
        "missing_column": "user,item\n1,2\n",
        "nan_time": "u,i,t\n1,2,nan\n",
        "empty": "u,i,t\n",
        "text_item_time": "u,i,t\n1,2,yesterday\n",
        "binary": None,
        "short_row": "u,i,t\n1,2\n",
    }
    imp_ok = 0
    for name, text in imports.items():
        path = folder / f"{name}.csv"
        if text is None:
            path.write_bytes(bytes(range(256)) * 4)
        else:
            path.write_text(text)
        before = file_digest(ws_path)
        proc = subprocess.run([sys.executable, "-c", CLI, "--workspace", str(ws_path), "data", "import", str(path),
                               "--name", f"bad_{name}", "--format", "csv", "--map", CSV_MAP],
                              capture_output=True, text=True, timeout=300)
        imp_ok += one_line_error(proc) and file_digest(ws_path) == before
    return len(experiments), exp_ok, len(imports), imp_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-kills", type=int, default=10)
    parser.add_argument("--foreground-kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    from workbench.data.importer import import_path
    from workbench.engine.runner import execute_run
    from workbench.store import open_workspace
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="wb-reliability-") as tmp:
        folder = Path(tmp)
        ws_path = folder / "ws.db"
        with open_workspace(ws_path, create=True) as ws:
            import_path(ws, write_ratings(folder / "r.csv", users=150, items=60, per_user=16), name="r", fmt="csv",
                        reader_options={"map": CSV_MAP})
        reference = comparable(execute_run(ws_path, new_run(ws_path)))
        exp = write_experiment(folder / "tiny.toml", tiny_experiment(EPOCHS))
        workers, foreground = Tally(), Tally()
        worker_kills(ws_path, args.worker_kills, reference, rng, workers)
        foreground_kills(ws_path, exp, args.foreground_kills, reference, rng, foreground)
        cancel_identical = cancel_then_resume(ws_path, reference, rng)
        n_exp, exp_ok, n_imp, imp_ok = bad_inputs(ws_path, folder)
    out = {"worker_kills": vars(workers), "foreground_kills": vars(foreground),
           "cancel_then_resume_identical": cancel_identical,
           "bad_experiments": {"tried": n_exp, "clean_one_line_error_and_unchanged": exp_ok},
           "bad_imports": {"tried": n_imp, "clean_one_line_error_and_unchanged": imp_ok},
           "seconds": round(time.time() - started, 1), "load": os.getloadavg()}
    print(json.dumps(out, indent=2))
    bad = (workers.runs_lost + workers.rows_lost + workers.not_identical + workers.integrity
           + foreground.runs_lost + foreground.rows_lost + foreground.not_identical + foreground.integrity)
    return 0 if bad == 0 and cancel_identical and exp_ok == n_exp and imp_ok == n_imp else 1


if __name__ == "__main__":
    sys.exit(main())
