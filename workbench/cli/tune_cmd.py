"""``workbench tune EXP.toml --trials N --set KEY=DIST(args)``, and ``workbench studies ls/show/cancel``."""

from __future__ import annotations

import click

from workbench.cli.common import echo_json, fail, open_ws, parse_group_id


@click.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--trials", type=click.IntRange(min=1), default=None, help="Trial budget (default: SPACE.toml's, else 20).")
@click.option("--set", "sets", multiple=True, metavar="KEY=DIST(args)",
              help="Search KEY with loguniform(a,b), uniform(a,b), int(a,b) or choice(x,y,...); repeatable.")
@click.option("--space", "space_file", type=click.Path(dir_okay=False), default=None,
              help="A SPACE.toml with a [space] table (and optional [tune] trials / pruner).")
@click.option("--pruner", type=click.Choice(["median", "hyperband", "none"]), default=None,
              help="Stop unpromising trials between epochs (default: SPACE.toml's, else median).")
@click.option("--prune-after", type=click.IntRange(min=1), default=None, metavar="EPOCHS",
              help="First epoch at which a trial may be pruned (default: SPACE.toml's, else 2); set it past a "
                   "learning-rate warm-up.")
@click.option("--dataset", default=None, help="Dataset name (overrides the experiment's `dataset`).")
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (overrides trainer.device).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override trainer.epochs of every trial.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of Optuna's TPE sampler.")
@click.option("--background", is_flag=True, help="Run the study in a detached process and return at once.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tune(ctx, experiment, trials, sets, space_file, pruner, prune_after, dataset, device, epochs, seed, background,
         as_json):
    """Search EXPERIMENT's hyperparameters with Optuna; every trial is a stored run.

    Each evaluated epoch's validation trainer.monitor is reported to Optuna, which may prune the
    trial. The study is a run group: `workbench studies show gN`, `workbench runs group gN`.
    """
    from workbench.engine.config import apply_overrides, load_toml
    from workbench.options import ConfigError
    from workbench.tune.space import load_space_file, merge_space, parse_set
    from workbench.tune.study import PRUNE_AFTER, create_study

    try:
        raw = apply_overrides(load_toml(experiment), epochs=epochs)
        file_params, defaults = load_space_file(space_file) if space_file else ([], {})
        params = merge_space(file_params, [parse_set(s) for s in sets])
    except ConfigError as e:
        fail(str(e))
    trials = trials or int(defaults.get("trials", 20))
    pruner = pruner or str(defaults.get("pruner", "median"))
    if prune_after is None:
        prune_after = defaults.get("prune_after", PRUNE_AFTER)
        where = f"{space_file}: tune.prune_after"
    else:
        where = "--prune-after"
    if isinstance(prune_after, bool) or not isinstance(prune_after, int) or prune_after < 1:
        fail(f"{where}: expected a whole number of epochs >= 1, got {prune_after!r}")
    ws = open_ws(ctx)
    ws_path = ws.path
    try:
        group_id = create_study(ws, raw, params, trials=trials, pruner=pruner, dataset=dataset, device=device,
                                seed=seed, prune_after=prune_after)
    except ConfigError as e:
        fail(f"{experiment}: {e}")
    finally:
        ws.close()
    if background:
        from workbench.store import open_workspace
        from workbench.store.run_groups import set_group_driver
        from workbench.tune.worker import log_path, start_detached
        proc = start_detached(ws_path, group_id)
        with open_workspace(ws_path) as w:   # from now on a reader can tell when that process is gone
            set_group_driver(w, group_id, proc.pid)
        if as_json:
            echo_json({"group_id": group_id, "pid": proc.pid, "log": str(log_path(ws_path, group_id))})
        else:
            click.echo(f"study g{group_id} started in the background (pid {proc.pid}); follow it with "
                       f"`workbench studies show g{group_id}`, stop it with `workbench studies cancel g{group_id}`")
        return
    from workbench.tune.study import run_study

    def show(row: dict) -> None:
        if not as_json:
            value = f"{row['value']:.4f}" if isinstance(row["value"], float) else "-"
            click.echo(f"trial {row['number']} (run {row['run_id']}): {row['state']}, value {value}, "
                       f"{params_text(row['params'])}")

    try:
        report = run_study(ws_path, group_id, on_trial=show)
    except KeyboardInterrupt:
        fail(f"study g{group_id} interrupted", code=130)
    if as_json:
        echo_json(report)
    else:
        print_report(report)


def params_text(params: dict) -> str:
    """A trial's parameters as ``key=value, ...``, floats to 4 significant digits."""
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def print_report(report: dict) -> None:
    best = report["best"]
    click.echo(f"study g{report['group_id']} {report['name']!r}: {report['status']}, "
               f"{len(report['trials'])}/{report['trials_requested']} trials, maximising validation "
               f"{report['monitor']} (pruner {report['pruner']}, from epoch {report['prune_after']})")
    for key, dist in report["space"].items():
        click.echo(f"  {key} ~ {dist}")
    for row, so_far in zip(report["trials"], report["best_so_far"]):
        value = f"{row['value']:.4f}" if isinstance(row["value"], float) else "-"
        best_s = f"{so_far:.4f}" if isinstance(so_far, float) else "-"
        params = params_text(row["params"])
        click.echo(f"  trial {row['number']:>3}  run {row['run_id']}  {row['state']:<8}  value {value}  "
                   f"best so far {best_s}  {params}")
    if best:
        click.echo(f"best: trial {best['number']} (run {best['run_id']}) {report['monitor']} {best['value']:.4f}")
    if report["importances"]:
        click.echo("parameter importances: " + ", ".join(f"{k} {v:.2f}" for k, v in report["importances"].items()))
    if report["error"]:
        click.echo("error:\n" + report["error"])


@click.group()
def studies():
    """Tuning studies (`workbench tune`): list, show, cancel."""


@studies.command("ls")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def studies_ls(ctx, as_json):
    from workbench.tune.study import list_studies
    with open_ws(ctx) as ws:
        rows = list_studies(ws)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no studies yet (`workbench tune EXP.toml --trials 20 --set 'trainer.lr=loguniform(1e-4,1e-2)'`)")
    for r in rows:
        click.echo(f"g{r['id']}  {r['status']:<9}  {r['num_runs']}/{r['spec'].get('trials')} trials  {r['name']}")


@studies.command("show")
@click.argument("study")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def studies_show(ctx, study, as_json):
    """Trials, best so far, parameter importances."""
    from workbench.tune.study import study_report
    with open_ws(ctx) as ws:
        try:
            report = study_report(ws, parse_group_id(study, "study"))
        except KeyError as e:
            fail(e.args[0])
    if as_json:
        echo_json(report)
    else:
        print_report(report)


@studies.command("cancel")
@click.argument("study")
@click.pass_context
def studies_cancel(ctx, study):
    """Stop a study: its running trial stops at the next poll, no new trial starts."""
    from workbench.tune.study import StudyError, cancel_study
    group_id = parse_group_id(study, "study")
    with open_ws(ctx) as ws:
        try:
            cancel_study(ws, group_id)
        except StudyError as e:
            fail(str(e))
    click.echo(f"study g{group_id}: cancel requested")
