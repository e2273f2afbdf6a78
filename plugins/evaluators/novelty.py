"""Novelty and popularity bias of the recommendation lists."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option
from workbench_plugins.evaluators._common import check_choices, check_ks, default_ks, metric_name

NOVELTY_METRICS = ("Novelty", "ARP", "PopPercentile")


@dataclass
class NoveltyOptions:
    ks: list[int] = option(default_factory=default_ks, help="cut-offs K, e.g. [5, 10, 20]")
    metrics: list[str] = option(default_factory=lambda: list(NOVELTY_METRICS),
                                help="Novelty (mean self-information, bits), ARP (average training count "
                                     "of recommended items), PopPercentile (their mean popularity percentile)")

    def __post_init__(self):
        self.ks = check_ks(self.ks, "ks")
        self.metrics = check_choices(self.metrics, NOVELTY_METRICS, "metrics")

    def metric_names(self) -> list[str]:
        return [metric_name(m, k, False) for k in self.ks for m in self.metrics]


SPECS = [PluginSpec(
    name="novelty", kind="evaluator", factory="workbench_plugins.evaluators.novelty_impl:NoveltyEvaluator",
    options=NoveltyOptions,
    description="Novelty@K (self-information) and popularity bias (ARP@K, PopPercentile@K) of top-K lists",
    default_for=("evaluators",))]
