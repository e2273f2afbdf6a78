"""The validation metrics an experiment will report, known before it runs (torch-free).

Used to reject a ``trainer.monitor`` that no plugin of the experiment reports, before a run row is
written. A plugin declares its metric names with a ``metric_names()`` method on its options class
(the built-in evaluators and the multi-task head do); an evaluator whose options do not declare
them, or a third-party head that does not, makes the set unknown and the check is skipped (the
trainer still stops with a clear error at the first validation).
"""

from __future__ import annotations

from workbench.options import ConfigError

BUILTIN_PREFIX = "workbench_plugins."


def reported_metrics(cfg, registry=None) -> set[str] | None:
    """Every validation metric name ``cfg`` (an ExperimentConfig) can report; None when unknown."""
    if registry is None:
        from workbench.plugins import get_registry
        registry = get_registry()
    sampled = cfg.evaluation.mode == "sampled"
    names: set[str] = set()
    for ev in cfg.evaluators:
        declare = getattr(ev.options, "metric_names", None)
        if declare is None:
            return None
        names.update(n if not sampled or n.startswith("sampled_") else "sampled_" + n for n in declare())
    declare = getattr(cfg.head.options, "metric_names", None)
    if declare is not None:
        names.update(declare())            # a head's auxiliary metrics carry no sampled_ label
    else:
        factory = registry.get("head", cfg.head.type).factory
        if not (isinstance(factory, str) and factory.startswith(BUILTIN_PREFIX)):
            return None                    # a third-party head may report metrics of its own
    return names


def check_monitor(cfg, registry=None) -> None:
    """Raise ConfigError when ``trainer.monitor`` is not among the metrics ``cfg`` reports (only
    when it is used: a run with epochs = 0 or without views, whose head is not trained, never reads it)."""
    if cfg.trainer.epochs == 0 or not cfg.views:
        return
    names = reported_metrics(cfg, registry)
    monitor = cfg.trainer.monitor
    if names is None or monitor in names:
        return
    listed = sorted(names)
    shown = ", ".join(listed[:24]) + (f", ... ({len(listed)} in all)" if len(listed) > 24 else "")
    hint = f"; evaluation.mode is sampled, so use 'sampled_{monitor}'" if f"sampled_{monitor}" in names else ""
    raise ConfigError(f"trainer.monitor: {monitor!r} is not a validation metric of this experiment{hint} "
                      f"(its evaluators and head report: {shown or 'none'})")
