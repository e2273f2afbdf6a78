"""Tuning studies on Optuna: each trial is an ordinary stored run of the experiment.

A study is a ``run_groups`` row of kind ``tune`` whose ``spec`` holds the experiment, the
search space, the trial budget and the pruner; its runs are the trials. Optuna's own record
(trial states, parameters, intermediate values) lives in its RDB storage, an SQLite file kept
with the workspace: ``NAME.files/optuna.db``, study name ``workbench-g<group id>``.

Objective: the best validation value of ``trainer.monitor`` over the run's epochs (maximised,
as the trainer maximises it). Every evaluated epoch is reported to Optuna; when the pruner says
so, the run stops between epochs and is stored as ``cancelled`` with a log event saying it was
pruned (Optuna records the trial as PRUNED). A failed run fails its trial and the study goes on.
A cancel request (``workbench tune cancel``) stops the running trial and the study.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

from workbench.options import ConfigError
from workbench.tune.space import Param, corner_values, set_key

PRUNERS = ("median", "hyperband", "none")
PRUNE_AFTER = 2   # default first epoch at which a trial may be pruned
STORAGE_FILE = "optuna.db"


def storage_url(ws_path: str | Path) -> str:
    from workbench.store.workspace import files_dir_for
    folder = files_dir_for(Path(ws_path).resolve())
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / STORAGE_FILE}"


def open_storage(ws_path: str | Path):
    """Optuna's RDB storage for the workspace. Creating it runs Optuna's schema migrations, which
    fail when two processes do it at once (a background study and a `studies show` poll, or two
    studies starting together): an exclusive lock on a file beside the database serialises that."""
    import fcntl

    import optuna
    url = storage_url(ws_path)
    lock_path = Path(url.removeprefix("sqlite:///") + ".lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class StudyError(ValueError):
    """A study cannot be found or acted on (one line, for the CLI and the app)."""


def list_studies(ws) -> list[dict]:
    """Every study, newest first: the ``tune`` groups with ``num_runs`` (trials started) and their spec
    (a study whose process is gone is marked failed first)."""
    from workbench.jobs.queue import reap_dead
    from workbench.store.run_groups import list_groups
    reap_dead(ws)
    rows = list_groups(ws, kind="tune")
    for r in rows:
        r.pop("run_statuses", None)
    return rows


def cancel_study(ws, group_id: int) -> None:
    """Ask a study to stop (``workbench studies cancel`` and the app): its running trial stops at the next
    poll and no new trial starts. StudyError when there is no such study or it has already finished."""
    from workbench.jobs.queue import reap_dead
    from workbench.store.run_groups import get_group, request_cancel
    reap_dead(ws)
    group = get_group(ws, group_id)
    if group is None or group["kind"] != "tune":
        raise StudyError(f"no tuning study g{group_id} in {ws.path}")
    if group["status"] in ("completed", "failed", "cancelled"):
        raise StudyError(f"study g{group_id} is already {group['status']}")
    request_cancel(ws, group_id)


def study_name(group_id: int) -> str:
    return f"workbench-g{group_id}"


def validate_space(config: dict, params: list[Param], *, dataset: str | None, device: str | None) -> None:
    """Every extreme value of every parameter must give a valid experiment (ConfigError naming the key)."""
    from workbench.engine.config import apply_overrides, parse_config
    if not params:
        raise ConfigError("no search space: give --set KEY=DIST(args) or --space SPACE.toml")
    for p in params:
        for value in corner_values(p):
            try:
                parse_config(apply_overrides(set_key(config, p.key, value), dataset=dataset, device=device))
            except ConfigError as e:
                raise ConfigError(f"search space {p.key}={p.describe()}: with {p.key} = {value!r}: {e}") from None


def create_study(ws, config: dict, params: list[Param], *, trials: int, pruner: str = "median",
                 dataset: str | None = None, device: str | None = None, seed: int = 0,
                 name: str | None = None, prune_after: int = PRUNE_AFTER) -> int:
    """Validate and store a study (a ``tune`` group); returns its group id. Nothing runs yet.

    ``prune_after``: the first epoch at which the pruner may stop a trial (earlier values, e.g. inside
    a learning-rate warm-up, say little about where a trial ends)."""
    from workbench.engine.config import apply_overrides, parse_config
    from workbench.store.run_groups import create_group, update_spec
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    if pruner not in PRUNERS:
        raise ConfigError(f"pruner: {pruner!r} is not one of {', '.join(PRUNERS)}")
    if isinstance(prune_after, bool) or not isinstance(prune_after, int) or prune_after < 1:
        raise ConfigError(f"prune_after: expected a whole number of epochs >= 1, got {prune_after!r}")
    cfg = parse_config(apply_overrides(config, dataset=dataset, device=device))
    validate_space(config, params, dataset=dataset, device=device)
    if not cfg.dataset:
        raise ConfigError("dataset: no dataset given (set dataset = \"...\" in the experiment or pass --dataset)")
    label = name or cfg.name
    spec = {"experiment": config, "dataset": dataset, "device": device, "space": [p.as_dict() for p in params],
            "trials": trials, "pruner": pruner, "prune_after": prune_after, "seed": seed,
            "monitor": cfg.trainer.monitor,
            "epochs": cfg.trainer.epochs, "storage": STORAGE_FILE}
    group_id = create_group(ws, "tune", f"tune {label}", spec, status="queued")
    spec["study"] = study_name(group_id)
    update_spec(ws, group_id, spec)
    import optuna    # the study exists in Optuna's storage before any worker or reader opens it
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name=spec["study"], storage=open_storage(ws.path), direction="maximize",
                        load_if_exists=True)
    return group_id


def prune_after_of(spec: dict) -> int:
    """A stored study's first prunable epoch; 1 for a study stored before the option existed (it was)."""
    return int(spec.get("prune_after", 1))


def make_pruner(kind: str, epochs: int, prune_after: int = PRUNE_AFTER):
    """The study's pruner. Steps are epochs (1, 2, ...); no trial is pruned before epoch ``prune_after``
    (median: after 2 complete trials; hyperband: its smallest budget is ``prune_after`` epochs)."""
    import optuna
    if kind == "median":   # Optuna prunes at a step >= n_warmup_steps
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=prune_after)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=prune_after, max_resource=max(prune_after, epochs))
    return optuna.pruners.NopPruner()


def suggest(trial, p: Param) -> Any:
    if p.kind == "loguniform":
        return trial.suggest_float(p.key, p.args[0], p.args[1], log=True)
    if p.kind == "uniform":
        return trial.suggest_float(p.key, p.args[0], p.args[1])
    if p.kind == "int":
        return trial.suggest_int(p.key, p.args[0], p.args[1], log=p.log)
    return trial.suggest_categorical(p.key, list(p.args))


class TrialReporter:
    """Run listener: reports each evaluated epoch's monitor value to the trial and decides pruning;
    ``should_stop`` is the run's stop poll (pruned, or the study was asked to cancel)."""

    def __init__(self, trial, monitor: str, cancelled: Callable[[], bool]):
        self.trial, self.monitor, self.cancelled = trial, monitor, cancelled
        self.pruned_at: int | None = None
        self.best: float | None = None

    def __call__(self, event) -> None:
        if event.kind != "epoch_finished":
            return
        value = (event.data.get("metrics") or {}).get(self.monitor)
        if not isinstance(value, (int, float)):
            return
        self.best = value if self.best is None else max(self.best, value)
        self.trial.report(float(value), int(event.data["epoch"]))
        if self.pruned_at is None and self.trial.should_prune():
            self.pruned_at = int(event.data["epoch"])

    def should_stop(self) -> bool:
        return self.pruned_at is not None or self.cancelled()


class StudyCancelled(Exception):
    """The study was asked to stop (its running trial is recorded as failed in Optuna)."""


def run_study(ws_path: str | Path, group_id: int, *, listeners: Iterable[Callable] = (),
              on_trial: Callable[[dict], None] | None = None) -> dict:
    """Run the study's remaining trials in this process; returns :func:`study_report`.

    ``listeners`` receive every trial run's events; ``on_trial(row)`` is called after each trial.
    """
    import os

    import optuna

    from workbench.engine.runner import create_run, execute_run
    from workbench.store import open_workspace
    from workbench.store.run_groups import add_run, cancel_requested, get_group, set_group_driver, set_group_status

    ws_path = Path(ws_path).resolve()
    with open_workspace(ws_path) as ws:
        group = get_group(ws, group_id)
        if group is None or group["kind"] != "tune":
            raise KeyError(f"no tuning study g{group_id} in {ws_path}")
        set_group_status(ws, group_id, "running")
        set_group_driver(ws, group_id, os.getpid())
    spec = group["spec"]
    params = [Param.from_dict(d) for d in spec["space"]]
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def cancelled() -> bool:
        with open_workspace(ws_path) as w:
            return cancel_requested(w, group_id)

    def stop_study(trial) -> None:
        trial.set_user_attr("cancelled", True)
        trial.study.stop()
        raise StudyCancelled(f"study g{group_id} was cancelled")

    def objective(trial) -> float:
        if cancelled():
            stop_study(trial)
        config = spec["experiment"]
        values = {p.key: suggest(trial, p) for p in params}
        for key, value in values.items():
            config = set_key(config, key, value)
        base = str(config.get("name") or "experiment")
        with open_workspace(ws_path) as w:
            run_id = create_run(w, config, dataset=spec["dataset"], device=spec["device"],
                                name=f"{base} (trial {trial.number})")
            add_run(w, group_id, run_id)
        trial.set_user_attr("run_id", run_id)
        reporter = TrialReporter(trial, spec["monitor"], cancelled)
        execute_run(ws_path, run_id, listeners=[reporter, *listeners], should_stop=reporter.should_stop)
        if reporter.pruned_at is not None:
            from workbench.store import runs as run_rows
            with open_workspace(ws_path) as w, w.db.conn:
                run_rows.add_event(w.db.conn, run_id, time.time(), "info", "log",
                                   f"pruned by the tuner after epoch {reporter.pruned_at} "
                                   f"(study g{group_id}, trial {trial.number})", None)
            raise optuna.TrialPruned()
        if reporter.should_stop():
            stop_study(trial)
        if reporter.best is None:
            raise RuntimeError(f"run {run_id} reported no validation {spec['monitor']}")
        return reporter.best

    def after(study_, frozen) -> None:
        if on_trial is not None:
            on_trial(_trial_row(frozen))

    status, error = "completed", None
    try:
        study = optuna.create_study(study_name=spec["study"], storage=open_storage(ws_path), direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=spec["seed"]),
                                    pruner=make_pruner(spec["pruner"], spec["epochs"], prune_after_of(spec)),
                                    load_if_exists=True)
        done = len([t for t in study.trials if t.state.is_finished()])
        remaining = max(0, spec["trials"] - done)
        if remaining:
            study.optimize(objective, n_trials=remaining, catch=(Exception,), callbacks=[after])
        if any(t.user_attrs.get("cancelled") for t in study.trials) or cancelled():
            status = "cancelled"
    except KeyboardInterrupt:
        status, error = "cancelled", "interrupted (Ctrl+C)"
        raise
    except BaseException:
        status, error = "failed", traceback.format_exc()
        raise
    finally:
        with open_workspace(ws_path) as ws:
            set_group_status(ws, group_id, status, error=error)
    with open_workspace(ws_path) as ws:
        return study_report(ws, group_id)


def _trial_row(t) -> dict:
    return {"number": t.number, "run_id": t.user_attrs.get("run_id"), "state": t.state.name.lower(),
            "value": t.value, "params": dict(t.params),
            "last_epoch": max(t.intermediate_values) if t.intermediate_values else None}


def study_report(ws, group_id: int, importances: bool = True) -> dict[str, Any]:
    """The study as JSON-ready data: spec, status, trials (with their runs), best trial, best-so-far
    curve, and parameter importances (Optuna's fANOVA; needs two completed trials). A study whose
    process is gone is marked failed first, and a trial it left running in Optuna's storage is failed there."""
    import optuna

    from workbench.jobs.queue import reap_dead
    from workbench.store.run_groups import ACTIVE, get_group
    reap_dead(ws)
    group = get_group(ws, group_id)
    if group is None or group["kind"] != "tune":
        raise KeyError(f"no tuning study g{group_id} in {ws.path}")
    spec = group["spec"]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=spec["study"], storage=open_storage(ws.path))
        trials = study.get_trials(deepcopy=False)
    except KeyError:      # created but no trial started yet
        study, trials = None, []
    if group["status"] not in ACTIVE and any(t.state == optuna.trial.TrialState.RUNNING for t in trials):
        for t in trials:  # left running by a process that died: nothing will finish it
            if t.state == optuna.trial.TrialState.RUNNING:
                study.tell(t.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        trials = study.get_trials(deepcopy=False)
    rows = [_trial_row(t) for t in trials]
    best_so_far, best = [], None
    for r in rows:
        if r["state"] == "complete" and (best is None or r["value"] > best["value"]):
            best = r
        best_so_far.append(best["value"] if best else None)
    imp: dict[str, float] = {}
    if importances and study is not None and sum(r["state"] == "complete" for r in rows) >= 2:
        try:
            imp = {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
        except (RuntimeError, ValueError):   # e.g. every completed trial has the same parameters
            imp = {}
    return {"group_id": group_id, "name": group["name"], "status": group["status"], "error": group["error"],
            "study": spec["study"], "storage": str(Path(storage_url(ws.path).removeprefix("sqlite:///"))),
            "monitor": spec["monitor"], "pruner": spec["pruner"], "prune_after": prune_after_of(spec),
            "trials_requested": spec["trials"],
            "space": {p["key"]: Param.from_dict(p).describe() for p in spec["space"]},
            "trials": rows, "best": best, "best_so_far": best_so_far, "importances": imp}
