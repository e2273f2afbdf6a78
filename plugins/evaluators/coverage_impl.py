"""Item coverage@K (numpy): |union of all users' top-K lists| / N, N = catalogue size."""

from __future__ import annotations

import numpy as np

from workbench.kinds import Rankings
from workbench_plugins.evaluators._base_impl import CutoffEvaluator, top_k_lists
from workbench_plugins.evaluators._common import metric_name
from workbench_plugins.evaluators.coverage import CoverageOptions


class CoverageEvaluator(CutoffEvaluator):
    name = "coverage"
    options_class = CoverageOptions

    def evaluate(self, rankings: Rankings) -> dict[str, float]:
        if len(rankings.target_rank) == 0:
            return {}
        num_items = len(rankings.item_popularity) - 1
        out = {}
        for k in self.options.ks:
            items = top_k_lists(rankings, k, "Coverage")
            distinct = np.unique(items[items > 0])
            out[metric_name("Coverage", k, rankings.sampled)] = float(distinct.size / num_items)
        return out
