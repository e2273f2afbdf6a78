"""Novelty and popularity bias of top-K lists (numpy).

With c_i the training interaction count of item i (``Rankings.item_popularity``),
N catalogue items and C = sum of c_i:

- ``Novelty@K``: mean self-information -log2(p_i), p_i = (c_i + 1) / (C + N)
  (add-one smoothing keeps never-seen items finite), averaged over each user's
  list, then over users. Higher = less obvious recommendations.
- ``ARP@K`` (average recommendation popularity): mean c_i of recommended items.
- ``PopPercentile@K``: mean popularity percentile in [0, 1] of recommended
  items, the percentile of i being (#items with c < c_i + 0.5 * #items with
  c == c_i) / N over the catalogue 1..N. 0.5 = no popularity bias on average,
  near 1 = only blockbusters.

Padding ids (0, fewer candidates than K) are ignored; users with an empty list
are left out of the mean.
"""

from __future__ import annotations

import numpy as np

from workbench.kinds import Rankings
from workbench_plugins.evaluators._base_impl import CutoffEvaluator, top_k_lists
from workbench_plugins.evaluators._common import metric_name
from workbench_plugins.evaluators.novelty import NoveltyOptions


def item_statistics(popularity: np.ndarray) -> dict[str, np.ndarray]:
    """Per-item (N+1,) arrays: self-information (bits), count, popularity percentile."""
    counts = np.asarray(popularity, dtype=np.float64).copy()
    counts[0] = 0.0
    catalogue = counts[1:]
    n = catalogue.size
    p = (counts + 1.0) / (catalogue.sum() + n)
    ordered = np.sort(catalogue)
    below = np.searchsorted(ordered, counts, side="left")
    at_or_below = np.searchsorted(ordered, counts, side="right")
    return {"Novelty": -np.log2(p), "ARP": counts, "PopPercentile": (below + at_or_below) / (2.0 * n)}


class NoveltyEvaluator(CutoffEvaluator):
    name = "novelty"
    options_class = NoveltyOptions

    def evaluate(self, rankings: Rankings) -> dict[str, float]:
        out = {}
        for name, values in self.per_user(rankings).items():
            kept = values[~np.isnan(values)]
            out[name] = float(kept.mean()) if kept.size else float("nan")
        return out

    def per_user(self, rankings: Rankings) -> dict[str, np.ndarray]:
        """Each user's list average; NaN for a user whose list is empty (left out of the mean)."""
        if len(rankings.target_rank) == 0:
            return {}
        stats = item_statistics(rankings.item_popularity)
        out = {}
        for k in self.options.ks:
            items = top_k_lists(rankings, k, "Novelty")
            valid = items > 0
            per_user_n = valid.sum(axis=1)
            for m in self.options.metrics:
                per_item = np.where(valid, stats[m][items], 0.0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    values = per_item.sum(axis=1) / per_user_n
                out[metric_name(m, k, rankings.sampled)] = np.where(per_user_n > 0, values, np.nan)
        return out
