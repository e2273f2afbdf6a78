"""``workbench run EXPERIMENT.toml``: train, evaluate and store a run (in the foreground)."""

from __future__ import annotations

import contextlib
import sys

import click

from workbench.cli.common import echo_json, fail, open_ws, run_failure, workspace_for_new_runs

from workbench.cli.progress import SUMMARY_KEYS, ProgressPrinter


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP reached a foreground run: it stops like Ctrl+C (cancelled, resumable)."""

    def __init__(self, signum: int):
        import signal
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum


@contextlib.contextmanager
def terminate_as_interrupt():
    """While a foreground run trains, SIGTERM and SIGHUP stop it as Ctrl+C does: the run is recorded
    ``cancelled`` and keeps its last checkpoint (instead of the process dying with the run ``running``)."""
    import signal

    def handler(signum, frame):
        raise Terminated(signum)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError, AttributeError):  # not the main thread, or no such signal here
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def interrupted_exit_code(e: KeyboardInterrupt) -> int:
    return 128 + e.signum if isinstance(e, Terminated) else 130


@click.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--dataset", default=None, help="Dataset name (overrides the experiment's `dataset`).")
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (overrides trainer.device).")
@click.option("--epochs", type=click.IntRange(min=0), default=None, help="Override trainer.epochs.")
@click.option("--name", default=None, help="Run name (default: the experiment's name).")
@click.option("--json", "as_json", is_flag=True, help="Print the run id and test metrics as JSON.")
@click.option("--background", is_flag=True,
              help="Queue the run as a background job (a detached worker trains it) and return at once.")
@click.option("--nproc", type=click.IntRange(min=1), default=None,
              help="Train with N processes (DistributedDataParallel ranks started by torchrun) on this machine; "
                   "overrides trainer.nproc.")
@click.option("--nnodes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Machines taking part (torchrun --nnodes); each runs this command with its --node-rank.")
@click.option("--node-rank", type=click.IntRange(min=0), default=0, show_default=True,
              help="This machine's rank (torchrun --node-rank). Node 0 creates and records the run; the "
                   "others only join it (their workspace needs the same dataset).")
@click.option("--rdzv-endpoint", default=None,
              help="HOST:PORT on node 0 where the nodes meet (torchrun --rdzv-endpoint); needed with --nnodes > 1.")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Run N seeds (trainer.seed, +1, ...) as one group; `workbench runs group gID` summarises it.")
@click.pass_context
def run(ctx, experiment, dataset, device, epochs, name, as_json, background, nproc, nnodes, node_rank, rdzv_endpoint,
        seeds):
    """Train EXPERIMENT (a TOML file), evaluate on the test split and store the run."""
    from workbench.engine.config import apply_overrides, load_toml
    from workbench.options import ConfigError

    if nnodes > 1 and (background or seeds is not None):
        fail("--nnodes > 1 runs one run in the foreground only (start the command on every node)")
    if node_rank >= nnodes:
        fail(f"--node-rank {node_rank}: must be below --nnodes {nnodes}")
    if nnodes > 1 and not rdzv_endpoint:
        fail("--rdzv-endpoint HOST:PORT (an address of node 0) is needed with --nnodes > 1")
    if node_rank > 0:
        _join(ctx, nproc or 1, nnodes, node_rank, rdzv_endpoint, as_json)
        return
    try:
        raw = apply_overrides(load_toml(experiment), epochs=epochs, nproc=nproc)
    except ConfigError as e:
        fail(str(e))
    if seeds is not None:
        from workbench.cli.seeds_cmd import run_seed_group
        return run_seed_group(ctx, experiment, raw, seeds, dataset=dataset, device=device, name=name,
                              as_json=as_json, background=background)
    with workspace_for_new_runs(ctx, experiment) as ws:
        ws_path = ws.path
        from workbench.engine.runner import create_run, run_config
        run_id = create_run(ws, raw, dataset=dataset, device=device, name=name)
        nproc = run_config(ws, run_id)[1].trainer.nproc
        if background:
            from workbench.jobs.launcher import job_device, submit
            job_id = submit(ws, run_id, job_device(raw, device))
    if background:
        if as_json:
            echo_json({"run_id": run_id, "job_id": job_id})
        else:
            click.echo(f"run {run_id} queued as job {job_id}; follow it with `workbench jobs logs {job_id} --follow`, "
                       f"stop it with `workbench jobs cancel {job_id}`")
        return
    from workbench.engine.runner import execute_run
    printer = ProgressPrinter(quiet=as_json)
    try:
        with terminate_as_interrupt():
            if nproc > 1 or nnodes > 1:
                from workbench.engine.distributed import LaunchOptions, launch_run
                metrics = launch_run(ws_path, run_id, LaunchOptions(nproc, nnodes, node_rank, rdzv_endpoint),
                                     quiet=as_json)
            else:
                metrics = execute_run(ws_path, run_id, listeners=[printer])
    except KeyboardInterrupt as e:
        printer.close()
        fail(f"run {run_id} {e or 'interrupted'}; it is cancelled, continue it with `workbench runs resume {run_id}`",
             code=interrupted_exit_code(e))
    except ConfigError as e:
        printer.close()
        fail(f"run {run_id} failed: {e}")
    except Exception as e:  # noqa: BLE001 - the traceback is stored with the run
        printer.close()
        fail(run_failure(run_id, e, ws_path))
    printer.close()
    if as_json:
        echo_json({"run_id": run_id, "test_metrics": metrics})
        return
    click.echo(f"run {run_id} completed")
    for k in SUMMARY_KEYS:
        if k in metrics:
            click.echo(f"  test {k:<8} {metrics[k]:.4f}")
    sys.stdout.flush()


def _join(ctx, nproc: int, nnodes: int, node_rank: int, rdzv_endpoint: str, as_json: bool) -> None:
    """A node other than 0: start this node's ranks of the run node 0 created (they get its config)."""
    from workbench.engine.distributed import LaunchOptions, launch_run
    ws = open_ws(ctx)
    ws_path = ws.path
    ws.close()
    try:
        launch_run(ws_path, None, LaunchOptions(nproc, nnodes, node_rank, rdzv_endpoint), quiet=True)
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    except RuntimeError as e:
        fail(f"node {node_rank}: {e}")
    if as_json:
        echo_json({"node_rank": node_rank, "status": "done"})
    else:
        click.echo(f"node {node_rank}: its {nproc} ranks finished")
