"""Rank-based accuracy metrics from :class:`workbench.kinds.Rankings` (numpy).

With one held-out item per user and its 0-based rank r (pessimistic ties):

- ``HR@K`` = ``Recall@K`` = mean of [r < K]
- ``NDCG@K`` = mean of [r < K] / log2(r + 2)   (the ideal DCG is 1)
- ``MRR@K`` = mean of [r < K] / (r + 1)
- ``Precision@K`` = HR@K / K
"""

from __future__ import annotations

import numpy as np

from workbench.kinds import Rankings
from workbench_plugins.evaluators._base_impl import CutoffEvaluator
from workbench_plugins.evaluators._common import metric_name
from workbench_plugins.evaluators.ranking import RankingOptions


class RankingEvaluator(CutoffEvaluator):
    name = "ranking"
    options_class = RankingOptions

    @property
    def max_k(self) -> int:
        return 0  # needs only the target rank, not the top-K lists

    def evaluate(self, rankings: Rankings) -> dict[str, float]:
        return {name: float(values.mean()) for name, values in self.per_user(rankings).items()}

    def per_user(self, rankings: Rankings) -> dict[str, np.ndarray]:
        rank = np.asarray(rankings.target_rank, dtype=np.int64)
        if rank.size == 0:
            return {}
        out: dict[str, np.ndarray] = {}
        for k in self.options.ks:
            hit = rank < k
            values = {
                "HR": hit.astype(np.float64),
                "Recall": hit.astype(np.float64),
                "NDCG": np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0),
                "MRR": np.where(hit, 1.0 / (rank + 1.0), 0.0),
                "Precision": hit / k,
            }
            for m in self.options.metrics:
                out[metric_name(m, k, rankings.sampled)] = values[m]
        return out
