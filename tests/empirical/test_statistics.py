"""Confidence intervals and paired differences over seeds, on toy cases with known answers."""

import numpy as np
import pytest
from scipy import stats

from kdscope.empirical.statistics import mean_ci, paired_difference, verdict


def test_t_interval_hand_values():
    # differences 1..5: mean 3, sd sqrt(2.5), se sqrt(0.5), t_{4, 0.975} = 2.7764451
    ci = mean_ci([1, 2, 3, 4, 5])
    half = 2.7764451051977987 * np.sqrt(0.5)
    assert ci.mean == 3.0 and ci.n == 5 and ci.sd == pytest.approx(np.sqrt(2.5))
    assert (ci.low, ci.high) == pytest.approx((3 - half, 3 + half), rel=1e-12)


def test_paired_difference_removes_the_shared_seed_effect():
    # Learner b = learner a + 0.02 exactly on every seed, while seeds differ by +-0.1:
    # the paired CI collapses on 0.02, the unpaired CIs overlap.
    seed_effect = np.array([0.1, -0.1, 0.05, -0.05, 0.0])
    a = 0.7 + seed_effect
    b = a + 0.02
    d = paired_difference(b, a)
    assert d.mean == pytest.approx(0.02) and d.high - d.low == pytest.approx(0.0, abs=1e-12)
    assert not d.contains_zero and verdict(d) == "distilled above alone"
    ca, cb = mean_ci(a), mean_ci(b)
    assert ca.high > cb.low  # unpaired intervals cannot separate them


def test_paired_difference_equals_one_sample_t_test(rng):
    a = rng.normal(0.8, 0.02, size=7)
    b = a + rng.normal(-0.01, 0.01, size=7)
    d = paired_difference(b, a)
    res = stats.ttest_rel(b, a)
    ci = res.confidence_interval(0.95)
    assert (d.low, d.high) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_t_interval_coverage_on_known_normal(rng):
    # 2000 toy experiments of 5 seeds from N(0.1, 1): about 95% of intervals cover 0.1.
    hits = sum((c := mean_ci(rng.normal(0.1, 1.0, size=5))).low <= 0.1 <= c.high for _ in range(2000))
    p = hits / 2000
    assert abs(p - 0.95) < 4 * np.sqrt(0.95 * 0.05 / 2000)


def test_bootstrap_interval_is_seeded_and_close_to_t(rng):
    x = rng.normal(0.0, 1.0, size=200)
    b1, b2 = mean_ci(x, method="bootstrap", seed=3), mean_ci(x, method="bootstrap", seed=3)
    assert (b1.low, b1.high) == (b2.low, b2.high)
    t = mean_ci(x)
    assert b1.low == pytest.approx(t.low, abs=0.05) and b1.high == pytest.approx(t.high, abs=0.05)


def test_degenerate_inputs():
    one = mean_ci([0.5])
    assert one.mean == 0.5 and np.isnan(one.low) and one.contains_zero
    assert verdict(paired_difference([0.5], [0.4])) == "one seed: no interval"
    assert mean_ci([np.nan, 1.0, 3.0]).n == 2
    d = paired_difference([0.7, 0.8, 0.75], [0.71, 0.78, 0.76])
    assert d.contains_zero and verdict(d).startswith("not separable")
    with pytest.raises(ValueError, match="pair seed by seed"):
        paired_difference([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="'method'"):
        mean_ci([1, 2], method="wald")
