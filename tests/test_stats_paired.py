"""The paired statistics against scipy and hand-computed values on known data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from workbench.stats.paired import bootstrap_ci, holm, paired_compare
from workbench.stats.summary import summarize, summarize_metrics


def test_paired_compare_matches_scipy():
    rng = np.random.default_rng(1)
    a = rng.random(400)
    b = a + rng.normal(0.02, 0.1, 400)
    r = paired_compare(a, b, n_boot=3000, seed=3)
    assert r.n == 400
    assert r.diff == pytest.approx((b - a).mean())
    assert r.mean_a == pytest.approx(a.mean()) and r.mean_b == pytest.approx(b.mean())
    assert r.t_p == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert r.wilcoxon_p == pytest.approx(stats.wilcoxon(b - a).pvalue)
    # the percentile bootstrap of a mean is close to the normal interval for n = 400
    half = 1.96 * (b - a).std(ddof=1) / math.sqrt(400)
    assert r.ci_low == pytest.approx(r.diff - half, abs=0.25 * half)
    assert r.ci_high == pytest.approx(r.diff + half, abs=0.25 * half)
    assert r.ci_low < r.diff < r.ci_high


def test_bootstrap_is_seeded_and_nan_users_are_left_out():
    d = np.arange(50, dtype=float)
    assert bootstrap_ci(d, 500, seed=4) == bootstrap_ci(d, 500, seed=4)
    assert bootstrap_ci(d, 500, seed=4) != bootstrap_ci(d, 500, seed=5)
    a = np.array([0.1, np.nan, 0.3, 0.5, 0.2])
    b = np.array([0.2, 0.9, np.nan, 0.7, 0.1])
    r = paired_compare(a, b, n_boot=100)
    assert r.n == 3
    assert r.diff == pytest.approx(np.mean([0.1, 0.2, -0.1]))
    assert r.t_p == pytest.approx(stats.ttest_rel([0.2, 0.7, 0.1], [0.1, 0.5, 0.2]).pvalue)


def test_identical_runs_have_p_one_and_zero_interval():
    a = np.array([0.0, 1.0, 0.5, 0.25])
    r = paired_compare(a, a.copy(), n_boot=100)
    assert (r.diff, r.ci_low, r.ci_high, r.t_p, r.wilcoxon_p) == (0.0, 0.0, 0.0, 1.0, 1.0)


def test_holm_matches_hand_computation():
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    # capped at 1, NaN stays NaN and is not counted in the family (m = 2 here)
    out = holm([0.6, float("nan"), 0.02])
    assert math.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.6, 0.04])
    np.testing.assert_allclose(holm([0.9, 0.8]), [1.0, 1.0])
    np.testing.assert_allclose(holm([0.3, 0.4]), [0.6, 0.6])


def test_seed_summary_is_a_student_t_interval():
    v = [0.20, 0.22, 0.19, 0.21, 0.23]
    s = summarize(v)
    lo, hi = stats.t.interval(0.95, 4, loc=np.mean(v), scale=stats.sem(v))
    assert s.n == 5 and s.mean == pytest.approx(np.mean(v)) and s.std == pytest.approx(np.std(v, ddof=1))
    assert (s.ci_low, s.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    one = summarize([0.3])
    assert one.n == 1 and one.mean == 0.3 and one.std is None and one.ci_low is None
    rows = [{"NDCG@10": 0.1, "forward_s": 3.0, "HR@10": 0.2}, {"NDCG@10": 0.3, "HR@10": 0.4, "x": 1.0}]
    out = summarize_metrics(rows)
    assert list(out) == ["NDCG@10", "HR@10"] and out["NDCG@10"].mean == pytest.approx(0.2)
