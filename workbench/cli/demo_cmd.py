"""``workbench demo``: a ready-made workspace with the generated demo dataset."""

from __future__ import annotations

import click

from workbench.cli.common import echo_json


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the demo dataset's stats as JSON.")
@click.option("--no-app", is_flag=True, help="Do not open the app afterwards (it opens only in a terminal).")
@click.option("--train", is_flag=True, help="Train the ready demo experiment (SASRec, full softmax CE) and print "
              "its test metrics before opening the app (what `make demo` runs).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="With --train: override the epochs.")
@click.pass_context
def demo(ctx, as_json, no_app, train, epochs):
    """Create/open the demo workspace (workspaces/demo.db) and import the demo dataset if absent.

    With --train, also train the ready demo experiment headless and store the run."""
    from workbench.cli.common import fail, workspace_spec
    from workbench.data.demo import DEMO_DATASET, ensure_demo_workspace
    from workbench.data.stats import dataset_stats, format_stats
    from workbench.store import WorkspaceError

    try:
        ws = ensure_demo_workspace(workspace_spec(ctx))
    except WorkspaceError as e:
        fail(str(e))
    try:
        s = dataset_stats(ws, DEMO_DATASET)
        path = ws.path
    finally:
        ws.close()
    trained = _train_demo(path, epochs, quiet=as_json) if train else None
    if as_json:
        echo_json({"workspace": str(path), **s, **({"run": trained} if trained else {})})
        return
    click.echo(f"demo workspace: {path}")
    click.echo(format_stats(s))
    if trained:
        click.echo(f"run {trained['run_id']} ({trained['experiment']}) completed; test metrics:")
        for k, v in trained["test_metrics"].items():
            if k.split("@")[0] in ("HR", "NDCG", "MRR"):
                click.echo(f"  {k:<8} {v:.4f}")
    import sys

    if not no_app and sys.stdin.isatty() and sys.stdout.isatty():
        _open_app(path)  # the app on the demo workspace, composer open on a ready experiment


def _open_app(ws_path) -> None:
    """Save the demo experiments into the workspace and open the app (its one entry point) on the baseline."""
    from workbench.data.demo_experiments import save_demo_experiments
    from workbench.store import open_workspace

    with open_workspace(ws_path) as ws:
        first = save_demo_experiments(ws)
    from workbench.tui.app import run_app

    run_app(str(ws_path), experiment=first)


def _train_demo(ws_path, epochs: int | None, quiet: bool) -> dict:
    """Save the demo experiments, train the baseline one in this process with a progress bar."""
    from workbench.cli.common import fail
    from workbench.cli.progress import ProgressPrinter
    from workbench.engine.runner import create_run, execute_run
    from workbench.store import experiments, open_workspace, runs
    from workbench.data.demo_experiments import BASELINE, baseline_config, save_demo_experiments

    config = baseline_config()
    if epochs is not None:
        config["trainer"]["epochs"] = epochs
    with open_workspace(ws_path) as ws:
        save_demo_experiments(ws)
        experiment_id = experiments.id_of(ws, BASELINE)
        run_id = create_run(ws, config, name=BASELINE)
        runs.update(ws, run_id, experiment_id=experiment_id)
    printer = ProgressPrinter(quiet=quiet)
    try:
        metrics = execute_run(ws_path, run_id, listeners=[printer])
    except Exception as e:  # noqa: BLE001 - the traceback is stored with the run
        printer.close()
        fail(f"demo run {run_id} failed: {type(e).__name__}: {e} (traceback: `workbench runs show {run_id}`)")
    printer.close()
    return {"run_id": run_id, "experiment": BASELINE, "test_metrics": metrics}
