"""APLT@K, the average percentage of long-tail items in top-K lists (numpy only).

With c_i the training count of catalogue item i = 1..N (``Rankings.item_popularity``):
let n_head = ceil(head_fraction * N) and t the n_head-th largest count; item i is
in the short head when c_i >= t and c_i > 0, otherwise it is long-tail. For each
user u with list L_u (the first K ids of ``Rankings.topk``, padding 0 dropped):

    APLT@K = mean over users with a non-empty L_u of |{i in L_u : i long-tail}| / |L_u|
"""

from __future__ import annotations

import math

import numpy as np

from workbench.kinds import Evaluator, Rankings
from workbench_example_evaluator.options import LongTailOptions


def long_tail_mask(item_popularity, head_fraction: float) -> np.ndarray:
    """(N+1,) bool: True for long-tail item ids; index 0 (padding) is False."""
    counts = np.asarray(item_popularity, dtype=np.float64)
    catalogue = counts[1:]
    n = catalogue.size
    tail = np.zeros(n + 1, dtype=bool)
    if n == 0:
        return tail
    n_head = max(1, math.ceil(head_fraction * n))
    threshold = np.sort(catalogue)[::-1][n_head - 1]
    tail[1:] = ~((catalogue >= threshold) & (catalogue > 0))
    return tail


class LongTailEvaluator(Evaluator):
    name = "longtail"

    def __init__(self, options: LongTailOptions | None = None):
        super().__init__(options or LongTailOptions())

    @property
    def max_k(self) -> int:
        """Longest top-K list this evaluator needs (the evaluation driver reads it)."""
        return max(self.options.ks)

    def evaluate(self, rankings: Rankings) -> dict[str, float]:
        if len(rankings.target_rank) == 0:
            return {}
        tail = long_tail_mask(rankings.item_popularity, self.options.head_fraction)
        topk = np.asarray(rankings.topk, dtype=np.int64)
        prefix = "sampled_" if rankings.sampled else ""
        out = {}
        for k in self.options.ks:
            if topk.ndim != 2 or topk.shape[1] < k:
                have = topk.shape[1] if topk.ndim == 2 else 0
                raise ValueError(f"APLT@{k} needs top-{k} lists but the rankings hold only {have} items per user")
            items = topk[:, :k]
            valid = items > 0
            listed = valid.sum(axis=1)
            in_tail = (tail[np.where(valid, items, 0)] & valid).sum(axis=1)
            keep = listed > 0
            out[f"{prefix}APLT@{k}"] = float((in_tail[keep] / listed[keep]).mean()) if keep.any() else float("nan")
        return out
