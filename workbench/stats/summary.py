"""Mean, standard deviation and 95 % confidence interval of a metric over repeated runs (seeds).

The interval is Student's t: mean +- t(0.975, n-1) * std / sqrt(n), with the sample standard
deviation (ddof = 1). One run gives no spread: std and CI are None.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class SeedSummary:
    n: int
    mean: float
    std: float | None
    ci_low: float | None
    ci_high: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(values: Iterable[float], level: float = 0.95) -> SeedSummary:
    """Summary of finite ``values`` (NaN/None are left out)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(float(x))], dtype=np.float64)
    n = int(v.size)
    if n == 0:
        return SeedSummary(0, float("nan"), None, None, None)
    mean = float(v.mean())
    if n == 1:
        return SeedSummary(1, mean, None, None, None)
    from scipy import stats
    std = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * std / math.sqrt(n)
    return SeedSummary(n, mean, std, mean - half, mean + half)


def summarize_metrics(metric_rows: list[dict], level: float = 0.95) -> dict[str, SeedSummary]:
    """``metric_rows``: each run's test metrics; the summary of every metric name they share
    (names in the first run's order; non-numeric values and timing entries ``*_s`` are skipped)."""
    if not metric_rows:
        return {}
    names = [k for k, v in metric_rows[0].items()
             if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.endswith("_s")
             and all(k in row for row in metric_rows[1:])]
    return {k: summarize([row[k] for row in metric_rows], level) for k in names}
