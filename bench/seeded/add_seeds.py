"""More seeds for an existing seeds group: run ROW.toml with the given trainer seeds and add the runs to the
group that ``workbench run ROW.toml --seeds N`` made (matched by the experiment name), or to a new group.

    .venv/bin/python bench/seeded/add_seeds.py /tmp/wb-seeded.db bench/seeded/ml100k_id.toml 45 46

The runs are created and trained exactly as ``workbench run --seeds`` does (engine.seeds.with_seed,
runner.create_run, runner.execute_run), one after the other; only the seed differs from the group's
other runs. Run two of these at once for two streams.
"""

from __future__ import annotations

import argparse
import os

from workbench.engine.config import load_toml
from workbench.engine.runner import create_run, execute_run
from workbench.engine.seeds import create_seed_group, group_status, with_seed
from workbench.store import open_workspace
from workbench.store.run_groups import (add_run, get_group, group_runs, list_groups, set_group_driver, set_group_status,
                                        update_spec)


def seeds_group(ws, name: str) -> int | None:
    """Id of the oldest seeds group of experiment ``name`` (group name "NAME xN seeds")."""
    found = [g for g in list_groups(ws, kind="seeds") if g["name"].rsplit(" x", 1)[0] == name]
    return min(g["id"] for g in found) if found else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace")
    ap.add_argument("experiment")
    ap.add_argument("seeds", type=int, nargs="+")
    args = ap.parse_args()
    raw = load_toml(args.experiment)
    name = str(raw.get("name") or "experiment")
    with open_workspace(args.workspace) as ws:
        group_id = seeds_group(ws, name)
        if group_id is None:
            first = dict(raw, trainer={**(raw.get("trainer") or {}), "seed": args.seeds[0]})
            group_id, run_ids = create_seed_group(ws, first, 1)
            rest = args.seeds[1:]
        else:
            run_ids, rest = [], args.seeds
        for seed in rest:
            run_id = create_run(ws, with_seed(raw, seed), name=f"{name} (seed {seed})")
            add_run(ws, group_id, run_id)
            run_ids.append(run_id)
        spec = get_group(ws, group_id)["spec"]
        update_spec(ws, group_id, {**spec, "seeds": sorted(set(spec.get("seeds", [])) | set(args.seeds))})
        set_group_status(ws, group_id, "running")
        set_group_driver(ws, group_id, os.getpid())   # a reader fails the group if this process dies
    print(f"g{group_id} ({name}): runs {run_ids}, seeds {args.seeds}", flush=True)
    for run_id in run_ids:
        try:
            execute_run(args.workspace, run_id)
        except Exception as e:  # noqa: BLE001 - the traceback is stored with the run; the next seed still runs
            print(f"run {run_id} failed: {type(e).__name__}: {e}", flush=True)
    with open_workspace(args.workspace) as ws:
        statuses = [r["status"] for r in group_runs(ws, group_id)]
        set_group_status(ws, group_id, group_status([s for s in statuses if s != "failed"] or statuses))
    print(f"g{group_id} ({name}): {statuses}", flush=True)


if __name__ == "__main__":
    main()
