"""Train the best trial of each tuning study again with fresh seeds, as one seeds group per study.

    python bench/seeded/confirm_tuned.py WS --study 1 --study 2 --seeds 43 44 45 46 47   # one stream
    (start it twice for two streams: they share the runs through a lock file beside WS)

For each study, once it has finished (completed or cancelled), its best trial's configuration (the
study's experiment with the trial's parameters set, exactly as the trial's objective built it) is
stored as a seeds group "NAME xN seeds" of queued runs with ``trainer.seed`` = the given seeds
(``engine.seeds.create_seed_group``). Every stream then takes the next unclaimed run, round-robin over
the groups (seed 1 of every group, then seed 2, ...), so the rows grow together, and trains it with
``runner.execute_run``, as ``workbench run --seeds`` does. Waits while a study is still running.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import time
from contextlib import contextmanager
from pathlib import Path

from workbench.engine.runner import execute_run
from workbench.engine.seeds import create_seed_group, group_status
from workbench.store import open_workspace
from workbench.store.run_groups import get_group, group_runs, set_group_status
from workbench.tune.space import set_key
from workbench.tune.study import study_report

FINISHED = ("completed", "cancelled")


@contextmanager
def locked_state(ws_path: Path):
    """The shared plan ({"groups": {study: group}, "claimed": [run ids]}) under an exclusive lock."""
    lock_path = ws_path.with_name(ws_path.name + ".confirm.lock")
    state_path = ws_path.with_name(ws_path.name + ".confirm.json")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(state_path.read_text()) if state_path.exists() else {"groups": {}, "claimed": []}
        yield state
        state_path.write_text(json.dumps(state))


def best_config(ws, study: int) -> dict | None:
    """The study's best trial's experiment, None while the study runs."""
    group = get_group(ws, study)
    if group["status"] not in FINISHED:
        return None
    report = study_report(ws, study, importances=False)
    if report["best"] is None:
        raise SystemExit(f"study g{study} has no completed trial")
    config = group["spec"]["experiment"]
    for key, value in report["best"]["params"].items():
        config = set_key(config, key, value)
    return config


def next_run(ws_path: Path, studies: list[int], seeds: list[int]) -> tuple[int | None, bool]:
    """(run id to train, whether any study is still running)."""
    with locked_state(ws_path) as state, open_workspace(ws_path) as ws:
        waiting = False
        for study in studies:
            if str(study) in state["groups"]:
                continue
            config = best_config(ws, study)
            if config is None:
                waiting = True
                continue
            config = {**config, "trainer": {**config.get("trainer", {}), "seed": seeds[0]}}
            group, _ = create_seed_group(ws, config, len(seeds))
            state["groups"][str(study)] = group
            print(f"study g{study}: best trial's {config.get('name')} -> seeds group g{group}", flush=True)
        queues = [[r["id"] for r in group_runs(ws, g)] for g in state["groups"].values()]
        for i in range(len(seeds)):
            for q in queues:
                if i < len(q) and q[i] not in state["claimed"]:
                    state["claimed"].append(q[i])
                    return q[i], waiting
        return None, waiting


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace")
    ap.add_argument("--study", type=int, action="append", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    args = ap.parse_args()
    if args.seeds != list(range(args.seeds[0], args.seeds[0] + len(args.seeds))):
        raise SystemExit("--seeds must be consecutive (a seeds group's runs use seed s, s+1, ...)")
    ws_path = Path(args.workspace).resolve()
    while True:
        run_id, waiting = next_run(ws_path, args.study, args.seeds)
        if run_id is None:
            if not waiting:
                break
            time.sleep(15)
            continue
        print(f"{time.strftime('%H:%M:%S')} run {run_id}", flush=True)
        try:
            execute_run(ws_path, run_id)
        except Exception as e:  # noqa: BLE001 - the traceback is stored with the run; the next one still runs
            print(f"run {run_id} failed: {type(e).__name__}: {e}", flush=True)
    with locked_state(ws_path) as state, open_workspace(ws_path) as ws:
        for group in state["groups"].values():
            statuses = [r["status"] for r in group_runs(ws, group)]
            if all(s not in ("queued", "running") for s in statuses):
                set_group_status(ws, group, group_status(statuses))
            print(f"g{group}: {statuses}", flush=True)


if __name__ == "__main__":
    main()
