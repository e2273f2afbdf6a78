"""Item coverage@K (numpy): |union of all users' top-K lists| / N, N = catalogue size."""

from __future__ import annotations

import numpy as np

from workbench.kinds import Evaluator, Rankings
from workbench_plugins.evaluators._common import metric_name
from workbench_plugins.evaluators.coverage import CoverageOptions


def top_k_lists(rankings: Rankings, k: int, who: str) -> np.ndarray:
    """(U, K) recommended ids (0 = no item); clear error if the lists are shorter than K."""
    topk = np.asarray(rankings.topk, dtype=np.int64)
    if topk.ndim != 2 or topk.shape[1] < k:
        have = topk.shape[1] if topk.ndim == 2 else 0
        raise ValueError(f"{who}@{k} needs top-{k} lists but the rankings hold only {have} items per user")
    return topk[:, :k]


class CoverageEvaluator(Evaluator):
    name = "coverage"

    def __init__(self, options: CoverageOptions | None = None):
        super().__init__(options or CoverageOptions())

    @property
    def max_k(self) -> int:
        return max(self.options.ks)

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
