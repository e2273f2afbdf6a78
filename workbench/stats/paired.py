"""Paired comparison of two runs' per-user values: mean difference, bootstrap CI, t-test, Wilcoxon, Holm.

All functions are pure (numpy + scipy), so the CLI, the app and tests share them.

- Difference: ``b - a`` per user (the compared run minus the baseline), its mean.
- Bootstrap CI: percentile interval of the mean difference over ``n_boot`` resamples of users
  with replacement (seeded: the same inputs give the same interval).
- Paired t-test: :func:`scipy.stats.ttest_rel` (two-sided).
- Wilcoxon signed-rank: :func:`scipy.stats.wilcoxon` (two-sided, zero differences dropped, the
  normal approximation for large samples as scipy chooses).
- Holm: step-down adjustment of a family of p-values (controls the family-wise error rate).

A comparison where every difference is zero has p = 1 (both tests are undefined there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_BOOTSTRAP = 2000
DEFAULT_LEVEL = 0.95


@dataclass
class PairedResult:
    """One metric, baseline ``a`` vs compared ``b``, over ``n`` users with a value in both."""

    n: int
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    t_p: float
    wilcoxon_p: float

    def as_dict(self) -> dict:
        return asdict(self)


def bootstrap_ci(diff: np.ndarray, n_boot: int = DEFAULT_BOOTSTRAP, level: float = DEFAULT_LEVEL,
                 seed: int = 0, chunk: int = 200) -> tuple[float, float]:
    """Percentile bootstrap interval of ``diff.mean()`` (resampling users with replacement)."""
    d = np.asarray(diff, dtype=np.float64)
    if d.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        means[start:start + size] = d[rng.integers(0, d.size, size=(size, d.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def paired_t_p(diff: np.ndarray) -> float:
    from scipy import stats
    d = np.asarray(diff, dtype=np.float64)
    if d.size < 2 or not np.any(d != 0):
        return 1.0
    if np.all(d == d[0]):      # constant non-zero difference: no variance, the shift is certain
        return 0.0
    return float(stats.ttest_1samp(d, 0.0).pvalue)


def wilcoxon_p(diff: np.ndarray) -> float:
    from scipy import stats
    d = np.asarray(diff, dtype=np.float64)
    if not np.any(d != 0):
        return 1.0
    return float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def paired_compare(a: np.ndarray, b: np.ndarray, *, n_boot: int = DEFAULT_BOOTSTRAP,
                   level: float = DEFAULT_LEVEL, seed: int = 0) -> PairedResult:
    """Compare per-user values ``a`` (baseline) and ``b`` aligned user by user; users where either is NaN are left out."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values must be aligned: shapes {a.shape} and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    d = b - a
    if d.size == 0:
        nan = float("nan")
        return PairedResult(0, nan, nan, nan, nan, nan, nan, nan)
    low, high = bootstrap_ci(d, n_boot, level, seed)
    return PairedResult(int(d.size), float(a.mean()), float(b.mean()), float(d.mean()), low, high,
                        paired_t_p(d), wilcoxon_p(d))


def holm(pvalues) -> np.ndarray:
    """Holm-adjusted p-values, in the input order. NaN p-values stay NaN and do not count in the family."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        out[idx] = running
    return out
