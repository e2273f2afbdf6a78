"""Shared base of the built-in evaluators (numpy; imported only with their implementations)."""

from __future__ import annotations

import numpy as np

from workbench.kinds import Evaluator, Rankings


class CutoffEvaluator(Evaluator):
    """An evaluator whose options carry a list of cut-offs ``ks``.

    Subclasses set ``options_class``; constructed without options they use its
    defaults. ``max_k`` tells the evaluation driver how long the top-K lists must be.
    """

    options_class: type

    def __init__(self, options=None):
        super().__init__(options or self.options_class())

    @property
    def max_k(self) -> int:
        return max(self.options.ks)


def top_k_lists(rankings: Rankings, k: int, who: str) -> np.ndarray:
    """(U, K) recommended ids (0 = no item); clear error if the lists are shorter than K."""
    topk = np.asarray(rankings.topk, dtype=np.int64)
    if topk.ndim != 2 or topk.shape[1] < k:
        have = topk.shape[1] if topk.ndim == 2 else 0
        raise ValueError(f"{who}@{k} needs top-{k} lists but the rankings hold only {have} items per user")
    return topk[:, :k]
