"""``workbench runs``: list, show, compare, resume and remove stored runs."""

from __future__ import annotations

import shutil

import click

from workbench.cli.common import echo_json, fail, open_ws, run_failure

KEY_METRICS = ("NDCG@10", "HR@10", "MRR@10")


def _run_row(ws, run_id: int) -> dict:
    from workbench.store import runs as run_rows
    row = run_rows.detail(ws, run_id)
    if row is None:
        fail(f"no run {run_id} in {ws.path}")
    return row


@click.group()
def runs():
    """Inspect and manage stored training runs."""


@runs.command("ls")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def ls(ctx, as_json):
    """List runs, newest first (a run whose process is gone is marked failed first)."""
    from workbench.jobs.queue import reap_dead
    from workbench.store import runs as run_rows
    with open_ws(ctx) as ws:
        reap_dead(ws)
        rows = run_rows.summaries(ws)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no runs yet (start one with `workbench run examples/sasrec_ce.toml --dataset NAME`)")
        return
    from rich.console import Console
    from rich.table import Table
    table = Table("id", "name", "dataset", "status", "device", "group", "best epoch", *KEY_METRICS)
    for r in rows:
        m = r["test_metrics"] or {}
        table.add_row(str(r["id"]), r["name"] or "", r["dataset"] or "", r["status"], r["device"] or "",
                      f"g{r['group_id']}" if r["group_id"] else "",
                      str(r["best_epoch"] or ""), *(f"{m[k]:.4f}" if k in m else "" for k in KEY_METRICS))
    Console().print(table)


@runs.command("show")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx, run_id, as_json):
    """Config, versions, per-epoch curve, test metrics and checkpoints of a run."""
    from workbench.store import runs as run_rows
    with open_ws(ctx) as ws:
        row = _run_row(ws, run_id)
        row["epochs"] = run_rows.epochs(ws, run_id)
        row["checkpoints"] = run_rows.checkpoints(ws, run_id)
        from workbench.store.catalogue import warm_start_report
        warm = warm_start_report(ws, run_id)
        if warm is not None:
            row["init_from"] = warm
    if as_json:
        echo_json(row)
        return
    click.echo(f"run {row['id']} {row['name']!r}: {row['status']} on {row['dataset']} ({row['device'] or '-'}), "
               f"seed {row['seed']}, best epoch {row['best_epoch']}")
    cfg = row["config"] or {}
    views = ", ".join(v["type"] for v in cfg.get("views", [])) or "none"
    click.echo(f"  model: views [{views}] -> {cfg.get('fusion', {}).get('type')} -> {cfg.get('head', {}).get('type')}"
               f"; dim {cfg.get('model', {}).get('dim')}, max_len {cfg.get('model', {}).get('max_len')}")
    if warm is not None:
        from workbench.engine.transfer import summary_lines
        for line in summary_lines(warm):
            click.echo(f"  {line}")
    for e in row["epochs"]:
        m = e["metrics"]
        loss = f"{e['train_loss']:.4f}" if e["train_loss"] is not None else "-"
        click.echo(f"  epoch {e['epoch']:>3}  loss {loss}  " +
                   "  ".join(f"{k} {m[k]:.4f}" for k in KEY_METRICS if k in m) + f"  {e['wall_time'] or 0:.1f}s")
    if row["test_metrics"]:
        click.echo("  test: " + "  ".join(f"{k} {v:.4f}" for k, v in row["test_metrics"].items()
                                          if isinstance(v, float) and not k.endswith("_s")))
    groups = (row.get("test_groups") or {}).get("groups") or {}
    if groups:
        b1, b2 = row["test_groups"]["group_bounds"]
        bounds = {"short": f"<= {b1}", "medium": f"{b1 + 1}-{b2}", "long": f"> {b2}"}
        sizes = row["test_groups"].get("group_sizes", {})
        for g, m in groups.items():
            click.echo(f"  test {g:<6} (history {bounds.get(g, '?')}, {sizes.get(g, '?')} users): " +
                       "  ".join(f"{k} {m[k]:.4f}" for k in KEY_METRICS if k in m))
    if row["error"]:
        click.echo("  error:\n" + row["error"])


@runs.command("resume")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def resume(ctx, run_id, as_json):
    """Continue a cancelled or failed run from its last checkpoint."""
    from workbench.cli.progress import ProgressPrinter
    from workbench.cli.run_cmd import interrupted_exit_code, terminate_as_interrupt
    from workbench.engine.runner import execute_run
    from workbench.jobs.queue import reap_dead
    from workbench.store import jobs as job_rows
    from workbench.store.leases import LeaseHeld
    from workbench.store.runs import DataChanged, RunStateError
    with open_ws(ctx) as ws:
        path = ws.path
        reap_dead(ws)
        row = _run_row(ws, run_id)
        job = job_rows.active_for_run(ws, run_id)
    if job is not None:
        fail(f"run {run_id} has job {job.id} ({job.status}{f' in worker process {job.pid}' if job.pid else ''}); "
             f"cancel it with `workbench jobs cancel {job.id}` first, or let it finish")
    if row["status"] not in ("cancelled", "failed"):
        fail(f"run {run_id} is {row['status']}; only a cancelled or failed run can be resumed")
    printer = ProgressPrinter(quiet=as_json)
    try:
        with terminate_as_interrupt():
            metrics = execute_run(path, run_id, listeners=[printer], resume=True)
    except (LeaseHeld, RunStateError, DataChanged) as e:
        printer.close()
        fail(str(e))
    except KeyboardInterrupt as e:
        printer.close()
        fail(f"run {run_id} {e or 'interrupted'}; continue it with `workbench runs resume {run_id}`",
             code=interrupted_exit_code(e))
    except Exception as e:  # noqa: BLE001
        printer.close()
        fail(run_failure(run_id, e, path, traceback_hint=False))
    printer.close()
    if as_json:
        echo_json({"run_id": run_id, "test_metrics": metrics})
    else:
        click.echo(f"run {run_id} completed: " + "  ".join(f"{k} {metrics[k]:.4f}" for k in KEY_METRICS if k in metrics))


@runs.command("rm")
@click.argument("run_ids", type=int, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def rm(ctx, run_ids, as_json):
    """Delete runs, their epochs, events and checkpoint files."""
    from workbench.engine.checkpoint import run_dir
    from workbench.store import runs as run_rows
    removed = []
    from workbench.jobs.queue import reap_dead
    with open_ws(ctx) as ws:
        reap_dead(ws)   # a run whose process is gone is failed first, so it can be removed
        for run_id in run_ids:
            row = _run_row(ws, run_id)
            if row["status"] == "running":
                fail(f"run {run_id} is running; cancel it first")
        for run_id in run_ids:
            run_rows.delete(ws, run_id)
            folder = run_dir(ws, run_id)
            if folder.exists():
                shutil.rmtree(folder)
            removed.append(run_id)
    if as_json:
        echo_json({"removed": removed})
    else:
        click.echo("removed run " + ", ".join(map(str, removed)))


def _add_research_commands() -> None:
    from workbench.cli.compare_cmd import compare, group, groups
    for command in (compare, groups, group):
        runs.add_command(command)


_add_research_commands()
