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


def queue_seed_group(ws, config: dict, n: int, *, dataset: str | None = None, device: str | None = None,
                     name: str | None = None) -> tuple[int, list[int], list[int]]:
    """:func:`create_seed_group`, each run queued as a background job (``workbench run EXP --seeds N
    --background`` and the composer's launch). One worker is started, after the last job is queued: it
    takes the jobs in turn. Returns (group id, run ids, job ids)."""
    from workbench.jobs.launcher import job_device, submit
    group_id, run_ids = create_seed_group(ws, config, n, dataset=dataset, device=device, name=name)
    job_ids = [submit(ws, run_id, job_device(config, device), start=i == len(run_ids) - 1)
               for i, run_id in enumerate(run_ids)]
    return group_id, run_ids, job_ids


def group_view(ws, group_id: int) -> dict | None:
    """A group and its runs, with per test metric the mean, std and 95 % CI over its completed runs
    (``summary``: metric -> :class:`workbench.stats.summary.SeedSummary` as a dict); None when absent.
    A seeds group's status is derived from its runs'."""
    from workbench.stats.summary import summarize_metrics
    from workbench.store.run_groups import get_group, group_runs
    group = get_group(ws, group_id)
    if group is None:
        return None
    members = group_runs(ws, group_id)
    if group["kind"] == "seeds" and members:
        group["status"] = group_status([r["status"] for r in members])
    done = [r for r in members if r["status"] == "completed"]
    summary = summarize_metrics([r["test_metrics"] or {} for r in done])
    return {**{k: group[k] for k in ("id", "kind", "name", "status", "spec", "error", "created_at", "finished_at")},
            "runs": [{k: r[k] for k in ("id", "name", "status", "seed", "best_epoch", "test_metrics")}
                     for r in members],
            "summary": {k: s.as_dict() for k, s in summary.items()}}


def group_status(statuses: list[str]) -> str:
    """A seeds group's status from its runs': running while any is queued or running, else
    completed when all completed, else failed (if any failed) or cancelled."""
    if any(s in ("queued", "running") for s in statuses):
        return "running"
    if statuses and all(s == "completed" for s in statuses):
        return "completed"
    return "failed" if "failed" in statuses else "cancelled"
