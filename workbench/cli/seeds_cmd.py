"""``workbench run EXP --seeds N``: N seeds of one experiment as a stored group."""

from __future__ import annotations

import click

from workbench.cli.common import echo_json, fail, workspace_for_new_runs


def run_seed_group(ctx, experiment: str, raw: dict, n: int, *, dataset: str | None, device: str | None,
                   name: str | None, as_json: bool, background: bool) -> None:
    from workbench.engine.seeds import create_seed_group, queue_seed_group
    with workspace_for_new_runs(ctx, experiment) as ws:
        ws_path = ws.path
        if background:
            group_id, run_ids, jobs = queue_seed_group(ws, raw, n, dataset=dataset, device=device, name=name)
        else:
            import os

            from workbench.store.run_groups import set_group_driver
            group_id, run_ids = create_seed_group(ws, raw, n, dataset=dataset, device=device, name=name)
            set_group_driver(ws, group_id, os.getpid())   # this process trains the seeds one after the other
    if background:
        if as_json:
            echo_json({"group_id": group_id, "run_ids": run_ids, "job_ids": jobs})
        else:
            click.echo(f"group g{group_id}: runs {', '.join(map(str, run_ids))} queued as jobs "
                       f"{', '.join(map(str, jobs))}; summary with `workbench runs group g{group_id}`")
        return
    from workbench.cli.compare_cmd import group_view
    from workbench.cli.progress import ProgressPrinter
    from workbench.engine.runner import execute_run
    from workbench.engine.seeds import group_status
    from workbench.store import open_workspace
    from workbench.store.run_groups import set_group_status
    failures = []
    for run_id in run_ids:
        printer = ProgressPrinter(quiet=as_json)
        try:
            execute_run(ws_path, run_id, listeners=[printer])
        except KeyboardInterrupt:
            printer.close()
            with open_workspace(ws_path) as w:
                set_group_status(w, group_id, "cancelled")
            fail(f"group g{group_id} interrupted at run {run_id}; resume it with `workbench runs resume {run_id}`",
                 code=130)
        except Exception as e:  # noqa: BLE001 - the traceback is stored with the run; the next seed still runs
            failures.append(f"run {run_id}: {type(e).__name__}: {e}")
        printer.close()
    with open_workspace(ws_path) as w:
        view = group_view(w, group_id)
        set_group_status(w, group_id, group_status([r["status"] for r in view["runs"]]))
        view = group_view(w, group_id)
    if as_json:
        echo_json({"group_id": group_id, "run_ids": run_ids, "status": view["status"], "summary": view["summary"],
                   "failures": failures})
    else:
        click.echo(f"group g{group_id}: {view['status']}")
        for k, s in view["summary"].items():
            if k in ("NDCG@10", "HR@10", "MRR@10") and s["std"] is not None:
                click.echo(f"  test {k:<8} {s['mean']:.4f} +- {s['std']:.4f} (std), 95% CI "
                           f"[{s['ci_low']:.4f}, {s['ci_high']:.4f}], n={s['n']}")
        for f in failures:
            click.echo(f"  failed: {f}", err=True)
    if failures:
        raise SystemExit(1)
