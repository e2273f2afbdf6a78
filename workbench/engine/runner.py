"""Runs as stored jobs: ``create_run`` validates and queues, ``execute_run`` trains, evaluates, records.

Everything a run produces is written to the workspace as it goes (see RunRecorder), so a
crash or kill loses nothing already written; ``execute_run(..., resume=True)`` continues
from the "last" checkpoint (saved after every epoch and on cancel).
"""

from __future__ import annotations

import json
import platform
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

from workbench.engine.config import apply_overrides, parse_config, run_config
from workbench.options import ConfigError

MAX_ITEM_TABLE_GIB = 16   # a larger item embedding table is surely a typo (dim 1e8 once asked for 320 GB)

VERSIONED_PACKAGES = ("seqrec-workbench", "torch", "numpy", "torch-geometric", "sentence-transformers",
                      "sqlite-utils", "textual")


def package_versions() -> dict[str, str]:
    import importlib.metadata as md
    out = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def _dataset_row(ws, name: str) -> dict:
    from workbench.store import datasets
    return datasets.require(ws, name, ConfigError, prefix="dataset: ")


def create_run(ws, config: dict, *, dataset: str | None = None, device: str | None = None,
               name: str | None = None) -> int:
    """Validate ``config`` (parsed TOML) fully and insert a ``queued`` run. Returns the run id."""
    raw = apply_overrides(config, dataset=dataset, device=device)
    cfg = parse_config(raw)
    from workbench.engine.metric_names import check_monitor
    check_monitor(cfg)
    if not cfg.dataset:
        raise ConfigError("dataset: no dataset given (set dataset = \"...\" in the experiment or pass --dataset)")
    ds = _dataset_row(ws, cfg.dataset)
    table_gib = (ds["n_items"] + 1) * cfg.model.dim * 4 / 2**30   # float32 item table, before any view's extras
    if table_gib > MAX_ITEM_TABLE_GIB:
        raise ConfigError(f"model.dim: {cfg.model.dim} x {ds['n_items']:,} items needs {table_gib:.3g} GiB for the item "
                          f"table alone (limit {MAX_ITEM_TABLE_GIB} GiB); use a smaller dim")
    if cfg.split.kind == "temporal" and not ds["has_timestamps"]:
        raise ConfigError(f"split.kind: dataset {cfg.dataset!r} has no timestamps; use \"loo\"")
    if cfg.trainer.device != "auto":
        from workbench.engine.device import resolve_device
        try:
            resolve_device(cfg.trainer.device)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    from workbench.engine.transfer import check_init_from
    check_init_from(ws, cfg)
    resolved = cfg.to_dict()
    from workbench.store import experiments, runs
    from workbench.store.rows import write
    with write(ws) as conn:
        exp_id = experiments.upsert(conn, cfg.name, config)
        return runs.insert(conn, experiment_id=exp_id, name=name or cfg.name, dataset_id=ds["id"], config=resolved,
                           seed=cfg.trainer.seed, data_fingerprint=ds["fingerprint"])


def execute_run(ws_path, run_id: int, *, listeners: Iterable[Callable] = (), should_stop: Callable[[], bool] = lambda: False,
                resume: bool = False, dist=None) -> dict:
    """Train, validate, test and record run ``run_id``; returns the test metrics ({} when cancelled).

    Opens its own workspace connection. Status: running -> completed | cancelled | failed.
    On an exception the traceback goes to ``runs.error``, status 'failed', and it is re-raised.
    A run with ``trainer.nproc > 1`` is handed to torchrun (:mod:`workbench.engine.distributed`),
    whose rank 0 calls this again with its ``dist`` context (``listeners`` stay in this process unused).
    """
    from workbench.engine.ownership import Ownership
    from workbench.store import leases, open_workspace, runs
    if dist is None:
        with open_workspace(Path(ws_path)) as ws:
            nproc = run_config(ws, run_id)[1].trainer.nproc
        if nproc > 1:
            from workbench.engine.distributed import LaunchOptions, launch_run
            quiet = all(getattr(listener, "quiet", True) for listener in listeners)   # rank 0 prints progress
            return launch_run(ws_path, run_id, LaunchOptions(nproc), resume=resume, should_stop=should_stop, quiet=quiet)
    ws = open_workspace(Path(ws_path))
    emitter = None
    owner = None
    owned = False  # True once this call made the run "running": only then does it record the outcome

    def set_status(new: str, **values) -> None:
        with leases.fenced(ws, run_id, owner.token) as conn:
            runs.transition(conn, run_id, new, only_from=None if new == "running" else ("running",), **values)

    try:
        row, cfg = run_config(ws, run_id)
        if not resume and row["status"] != "queued":
            raise RuntimeError(f"run {run_id} is {row['status']}, not queued (resume=True continues it)")
        if resume and row["status"] == "completed":
            raise RuntimeError(f"run {run_id} is already completed")
        owner = Ownership(ws, run_id)          # LeaseHeld while another live process trains this run
        row, cfg = run_config(ws, run_id)      # as the lease left it (a run whose trainer died is now failed)
        set_status("running", started_at=row["started_at"] or time.time(), error=None, finished_at=None,
                   versions=json.dumps(package_versions()))
        owned = True
        from workbench.engine.session import RunSession
        session = RunSession(ws, run_id, cfg, listeners=listeners,
                             should_stop=lambda: owner.lost or should_stop(), dist=dist, token=owner.token)
        emitter = session.emitter
        if row["data_fingerprint"] and row["data_fingerprint"] != session.dataset.fingerprint:
            raise RuntimeError(f"dataset {cfg.dataset!r} changed since run {run_id} was created "
                               "(fingerprint differs); create a new run")
        with leases.fenced(ws, run_id, owner.token) as conn:
            runs.set_columns(conn, run_id, device=str(session.device), data_fingerprint=session.dataset.fingerprint)
        status, test_metrics, test_groups = session.run(resume=resume)
        if owner.lost:
            raise leases.LeaseLost(f"run {run_id} was taken over by another trainer; this process stopped")
        set_status(status, finished_at=time.time(), best_epoch=session.trainer.state.best_epoch or None,
                   **({"test_metrics": json.dumps(test_metrics), "test_groups": json.dumps(test_groups)}
                      if status == "completed" else {}))
        emitter.emit("run_finished", status=status, test_metrics=test_metrics,
                     best_epoch=session.trainer.state.best_epoch)
        return test_metrics
    except KeyboardInterrupt as e:
        if owned:
            _record_end(set_status, "cancelled", str(e) or "interrupted (Ctrl+C)")
        raise
    except BaseException as e:
        from workbench.store.storage_errors import describe
        tb = traceback.format_exc() + (describe(e, ws_path) or "")   # the last line: what to do about it
        try:
            if owned and not isinstance(e, leases.LeaseLost):
                _record_end(set_status, "failed", tb)
                if emitter is not None:
                    emitter.emit("run_failed", error=f"{type(e).__name__}: {e}")
        finally:
            raise
    finally:
        if owner is not None:
            owner.release(ws)
        ws.close()


def _record_end(set_status, status: str, error: str) -> None:
    """Record how a run ended unless another trainer owns it now (then it writes nothing)."""
    from workbench.store.leases import LeaseLost
    try:
        set_status(status, finished_at=time.time(), error=error)
    except LeaseLost:
        pass


def run_experiment(ws_path, config: dict, *, dataset: str | None = None, device: str | None = None,
                   name: str | None = None, listeners: Iterable[Callable] = ()) -> tuple[int, dict[str, Any]]:
    """create_run + execute_run in this process. Returns (run id, test metrics)."""
    from workbench.store import open_workspace
    with open_workspace(Path(ws_path)) as ws:
        run_id = create_run(ws, config, dataset=dataset, device=device, name=name)
    return run_id, execute_run(ws_path, run_id, listeners=listeners)
