"""Accuracy of the held-out item's rank: HR, NDCG, MRR, Precision (and Recall) at K."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option
from workbench_plugins.evaluators._common import check_choices, check_ks, default_ks, metric_name

RANKING_METRICS = ("HR", "Recall", "NDCG", "MRR", "Precision")


@dataclass
class RankingOptions:
    ks: list[int] = option(default_factory=default_ks, help="cut-offs K, e.g. [5, 10, 20]")
    metrics: list[str] = option(default_factory=lambda: ["HR", "NDCG", "MRR", "Precision"],
                                help="which of HR, Recall, NDCG, MRR, Precision to report "
                                     "(Recall@K equals HR@K with one held-out item)")

    def __post_init__(self):
        self.ks = check_ks(self.ks, "ks")
        self.metrics = check_choices(self.metrics, RANKING_METRICS, "metrics")

    def metric_names(self) -> list[str]:
        return [metric_name(m, k, False) for k in self.ks for m in self.metrics]


SPECS = [PluginSpec(
    name="ranking", kind="evaluator", factory="workbench_plugins.evaluators.ranking_impl:RankingEvaluator",
    options=RankingOptions,
    description="HR@K, NDCG@K, MRR@K, Precision@K of the held-out item (pessimistic ties)",
    default_for=("evaluators",))]
