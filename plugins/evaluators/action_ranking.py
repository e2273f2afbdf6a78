"""Ranking metrics on the held-out events of one action type at a time (torch-free spec).

The SQN paper (Xin et al., SIGIR 2020) reports HR/NDCG separately for targets that were
purchases and for targets that were clicks; this evaluator does that for any action types.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import ConfigError, option
from workbench_plugins.evaluators._common import check_choices, check_ks, default_ks, metric_name
from workbench_plugins.evaluators.ranking import RANKING_METRICS


@dataclass
class ActionRankingOptions:
    actions: list[str] = option(default_factory=lambda: ["purchase", "click"],
                                help="action types whose targets get their own metrics (names as imported)")
    ks: list[int] = option(default_factory=lambda: [10, 20], help="cut-offs K")
    metrics: list[str] = option(default_factory=lambda: ["HR", "NDCG"],
                                help="which of HR, Recall, NDCG, MRR, Precision to report per action")

    def __post_init__(self):
        if not self.actions or not all(isinstance(a, str) and a for a in self.actions):
            raise ConfigError("actions: give at least one action type name, e.g. [\"purchase\", \"click\"]")
        self.ks = check_ks(self.ks or default_ks(), "ks")
        self.metrics = check_choices(self.metrics, RANKING_METRICS, "metrics")

    def metric_names(self) -> list[str]:
        return [f"{a}_num_users" for a in self.actions] + \
            [f"{a}_{metric_name(m, k, False)}" for a in self.actions for k in self.ks for m in self.metrics]


SPECS = [PluginSpec(
    name="action_ranking", kind="evaluator",
    factory="workbench_plugins.evaluators.action_ranking_impl:ActionRankingEvaluator",
    options=ActionRankingOptions,
    description=("HR/NDCG/... at K over the users whose held-out event has a given action type (e.g. "
                 "purchase_NDCG@10, click_NDCG@10, as in the SQN paper), with the number of such users"))]
