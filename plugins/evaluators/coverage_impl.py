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
        distinct = {}
        listed = np.zeros(num_items + 1, dtype=bool)
        for k in sorted(self.options.ks):   # marks, not np.unique: O(users x K) (unique: 0.8 s at 100k x 20)
            listed[top_k_lists(rankings, k, "Coverage")] = True      # id 0 (no item) is marked, not counted
            distinct[k] = np.count_nonzero(listed[1:])
        return {metric_name("Coverage", k, rankings.sampled): float(distinct[k] / num_items) for k in self.options.ks}
