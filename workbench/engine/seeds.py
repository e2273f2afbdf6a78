"""Repeated seeds: one experiment run N times with seeds s, s+1, ..., s+N-1 as one stored group.

Only ``trainer.seed`` changes between the runs (model initialisation, batch order, dropout);
the split keeps its own seeds, so every run is evaluated on the same users and the group's
runs can be paired with other runs user by user (:mod:`workbench.stats.compare`).
"""

from __future__ import annotations

import copy


def seed_list(config: dict, n: int) -> list[int]:
    base = int((config.get("trainer") or {}).get("seed", 42))
    return [base + i for i in range(n)]


def with_seed(config: dict, seed: int) -> dict:
    out = copy.deepcopy(config)
    out["trainer"] = {**(out.get("trainer") or {}), "seed": seed}
    return out


def create_seed_group(ws, config: dict, n: int, *, dataset: str | None = None, device: str | None = None,
                      name: str | None = None) -> tuple[int, list[int]]:
    """Validate and queue N runs of ``config`` (seeds from its ``trainer.seed``) as a ``seeds`` group.

    Returns (group id, run ids). A config error is raised by the first run's validation, before
    anything is stored.
    """
    from workbench.engine.runner import create_run
    from workbench.store.run_groups import add_run, create_group, run_experiment_id
    if n < 1:
        raise ValueError(f"--seeds must be >= 1, got {n}")
    seeds = seed_list(config, n)
    label = name or str(config.get("name") or "experiment")
    first = create_run(ws, with_seed(config, seeds[0]), dataset=dataset, device=device,
                       name=f"{label} (seed {seeds[0]})")
    group_id = create_group(ws, "seeds", f"{label} x{n} seeds", {"seeds": seeds},
                            experiment_id=run_experiment_id(ws, first), status="running")
    add_run(ws, group_id, first)
    run_ids = [first]
    for seed in seeds[1:]:
        run_id = create_run(ws, with_seed(config, seed), dataset=dataset, device=device, name=f"{label} (seed {seed})")
        add_run(ws, group_id, run_id)
        run_ids.append(run_id)
    return group_id, run_ids


def group_status(statuses: list[str]) -> str:
    """A seeds group's status from its runs': running while any is queued or running, else
    completed when all completed, else failed (if any failed) or cancelled."""
    if any(s in ("queued", "running") for s in statuses):
        return "running"
    if statuses and all(s == "completed" for s in statuses):
        return "completed"
    return "failed" if "failed" in statuses else "cancelled"
