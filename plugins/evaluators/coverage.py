"""Catalogue coverage of the recommendation lists."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option
from workbench_plugins.evaluators._common import check_ks, default_ks, metric_name


@dataclass
class CoverageOptions:
    ks: list[int] = option(default_factory=default_ks, help="cut-offs K, e.g. [5, 10, 20]")

    def __post_init__(self):
        self.ks = check_ks(self.ks, "ks")

    def metric_names(self) -> list[str]:
        return [metric_name("Coverage", k, False) for k in self.ks]


SPECS = [PluginSpec(
    name="coverage", kind="evaluator", factory="workbench_plugins.evaluators.coverage_impl:CoverageEvaluator",
    options=CoverageOptions,
    description="Coverage@K: share of the N catalogue items that appear in at least one top-K list",
    default_for=("evaluators",))]
