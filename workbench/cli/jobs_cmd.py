"""``workbench jobs``: list, cancel, resume and follow background jobs."""

from __future__ import annotations

import json
import time

import click

from workbench.cli.common import echo_json, fail, open_ws


@click.group()
def jobs():
    """Background jobs: runs executing in worker processes."""


def _fmt_progress(p: dict | None) -> str:
    if not p:
        return ""
    parts = []
    if p.get("epoch") is not None:
        parts.append(f"epoch {p['epoch']}")
    if p.get("step") is not None and p.get("steps"):
        parts.append(f"step {p['step']}/{p['steps']}")
    if p.get("loss") is not None:
        parts.append(f"loss {p['loss']:.4f}")
    if p.get("eta_s") is not None:
        parts.append(f"eta {int(p['eta_s'])}s")
    return " ".join(parts)


@jobs.command("ls")
@click.option("--all", "show_all", is_flag=True, help="List every job (default: the 50 most recent).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def ls_cmd(ctx, show_all, as_json):
    """List jobs, newest first (detects workers that died)."""
    from workbench.jobs.queue import list_jobs

    ws = open_ws(ctx)
    rows = list_jobs(ws, include_finished=True, limit=10_000 if show_all else 50)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no jobs")
        return
    click.echo(f"{'JOB':>4} {'RUN':>4} {'STATUS':<10} {'DEVICE':<8} {'PID':>7}  PROGRESS / ERROR")
    for r in rows:
        detail = _fmt_progress(r["progress"]) if r["status"] == "running" else ""
        tm = r.get("test_metrics") or {}
        if r["status"] == "completed" and "NDCG@10" in tm:
            detail = f"test NDCG@10 {tm['NDCG@10']:.4f}"
        if r["status"] == "failed" and r["error"]:
            detail = r["error"].strip().splitlines()[-1][:80]
        name = f" {r['run_name']}" if r.get("run_name") else ""
        click.echo(f"{r['id']:>4} {r['run_id']:>4} {r['status']:<10} {r['device']:<8} {r['pid'] or '':>7}  "
                   f"{detail}{name}")


@jobs.command("cancel")
@click.argument("job_id", type=int)
@click.pass_context
def cancel_cmd(ctx, job_id):
    """Stop a job gracefully (its last checkpoint is kept)."""
    from workbench.jobs.queue import JobError, request_cancel

    ws = open_ws(ctx)
    try:
        status = request_cancel(ws, job_id)
    except JobError as e:
        fail(str(e))
    click.echo(f"job {job_id}: cancelled" if status == "cancelled" else
               f"job {job_id}: cancellation requested; it stops within a few seconds")


@jobs.command("resume")
@click.argument("job_id", type=int)
@click.option("--device", default=None, help="Device to continue on (default: the job's device).")
@click.pass_context
def resume_cmd(ctx, job_id, device):
    """Continue the run of a cancelled or failed job from its last checkpoint (as a new job)."""
    from workbench.jobs.launcher import resume_run
    from workbench.jobs.queue import JobError, get_job

    ws = open_ws(ctx)
    try:
        job = get_job(ws, job_id)
        new_id = resume_run(ws, job.run_id, device or job.device)
    except JobError as e:
        fail(str(e))
    click.echo(f"run {job.run_id} resumes as job {new_id}")


def _event_line(e: dict) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(e["ts"]))
    return f"{stamp} {e['level']:<7} {e['kind']:<15} {e['message']}"


@jobs.command("logs")
@click.argument("job_id", type=int)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the job ends.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@click.pass_context
def logs_cmd(ctx, job_id, follow, as_json):
    """Print the events of a job's run (and the job's error when it failed)."""
    from workbench.jobs.queue import JobError, get_job, reap_dead
    from workbench.store import runs as run_rows

    ws = open_ws(ctx)
    try:
        job = get_job(ws, job_id)
    except JobError as e:
        fail(str(e))
    last = 0
    while True:
        for e in run_rows.events(ws, job.run_id, last):
            last = e["id"]
            click.echo(json.dumps(e) if as_json else _event_line(e))
        job = get_job(ws, job_id)
        if not follow or job.status not in ("queued", "running"):
            break
        time.sleep(0.5)
        reap_dead(ws)
    if job.status == "failed" and job.error and not as_json:
        click.echo(f"job {job_id} failed:\n{job.error.rstrip()}")
