"""Per-user metric values of an evaluation, for paired significance tests between runs.

Every evaluator that implements :meth:`workbench.kinds.Evaluator.per_user` contributes its
per-user arrays (sampled-mode names get the ``sampled_`` label as in
:func:`workbench.engine.evaluate.compute_metrics`); the arrays are reordered by ascending user id
(:func:`workbench.store.user_metrics.sorted_by_user`), the order they are stored in.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from workbench.kinds import Evaluator, Rankings
from workbench.store.user_metrics import SplitUserMetrics, sorted_by_user


def per_user_metrics(evaluators: Iterable[Evaluator], rankings: Rankings, users) -> SplitUserMetrics:
    """``users`` (U,) in the order of ``rankings``; returns the per-user metrics sorted by user id."""
    values: dict[str, np.ndarray] = {}
    for ev in evaluators:
        per_user = getattr(ev, "per_user", None)
        if per_user is None:   # a third-party evaluator written against an older contract
            continue
        for name, arr in per_user(rankings).items():
            if rankings.sampled and not name.startswith("sampled_"):
                name = "sampled_" + name
            values[name] = np.asarray(arr, dtype=np.float64)
    return sorted_by_user(np.asarray(users), values)
