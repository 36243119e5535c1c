"""simulate_once / simulate: records, determinism, protocol details, failure reporting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kdscope.simulations import aggregate, simulate, simulate_frame, simulate_once, train_chain
from kdscope.theory import Setting, solve

KD = Setting(alpha=2.0, lam_t=0.1, generations=1, xi=1.0, lam_s=0.01)
SMALL = 40


def _comparable(rec):
    return {k: v for k, v in rec.items() if k != "seconds"}


def test_same_seed_same_record_other_seed_other_record():
    a = simulate_once(KD, SMALL, 7)
    b = simulate_once(KD, SMALL, 7)
    c = simulate_once(KD, SMALL, 8)
    assert _comparable(a) == _comparable(b)
    assert a["m_s"] != c["m_s"]


@pytest.mark.parametrize("fields", [
    dict(alpha=2.0, lam_t=0.1),
    dict(alpha=2.0, lam_t=0.1, generations=1, lam_s=0.01),
    dict(alpha=2.0, lam_t=0.1, generations=2, lam_s=0.01),
    dict(alpha=2.0, teacher="bayes", generations=1, lam_s=0.01),
])
def test_record_columns_are_the_theory_columns(fields):
    s = Setting(**fields)
    th = solve(s).record()
    rec = simulate_once(s, SMALL, 0)
    solver_only = {"iterations", "residual", "order", "quad_err"}  # the theory solver's own columns
    assert set(th) - solver_only <= set(rec)
    assert set(rec) - set(th) <= {"d", "seed"}
    agg = simulate(s, d=SMALL, seeds=2)
    for key in ("m_t", "eps_t", "eps_oracle"):
        assert key in agg and f"{key}_se" in agg
    assert agg["seeds"] == [0, 1] and agg["n_converged"] == 2 and agg["converged"] and agg["d"] == SMALL


def test_sparse_student_trains_only_its_support():
    s = KD.replace(eta=0.4, generations=2, alpha=3.0)
    d = 50
    ch = train_chain(s, d, 1)
    d_s = round(0.4 * d)
    assert ch.d_s == d_s
    for k in (1, 2):
        w = ch.learners[k].w
        assert np.all(w[d_s:] == 0.0)
        assert np.count_nonzero(w[:d_s]) == d_s
        # logit normalised by sqrt(d), not sqrt(eta d)
        np.testing.assert_allclose(ch.learners[k].z, ch.student_data.X @ w / np.sqrt(d) + ch.learners[k].b,
                                   atol=1e-10)
    # the teacher is dense
    assert np.count_nonzero(ch.learners[0].w) == d
    # V_s is a trace over the d_s trained coordinates divided by d
    f1 = ch.learners[1].fit
    assert f1.H_inv.shape == (d_s + 1, d_s + 1)
    rec = simulate_once(s, d, 1)
    assert rec["V_s"] == pytest.approx(np.trace(f1.H_inv[:d_s, :d_s]) / d)


def test_soft_targets_are_the_previous_learners_training_logits():
    ch = train_chain(KD.replace(generations=2), SMALL, 2)
    for k in (1, 2):
        y, t = ch.learners[k].target
        np.testing.assert_array_equal(t, ch.learners[k - 1].z)
        np.testing.assert_array_equal(y, ch.student_data.y_obs)


def test_non_convergence_is_reported_below_separability():
    s = Setting(alpha=1.0, delta=1.0, lam_t=0.0)
    rec = simulate_once(s, 100, 0)
    assert rec["converged"] is False
    assert rec["status"].startswith("teacher:") and "minimiser" in rec["status"]
    assert math.isnan(rec["V_t"])
    agg = simulate(s, d=100, seeds=2)
    assert agg["converged"] is False and agg["n_converged"] == 0 and math.isnan(agg["eps_t"])


def test_fixed_teacher_has_its_overlaps_and_students_use_alpha_s():
    s = Setting(alpha=2.0, teacher="fixed", m0=0.7, q0=1.2, b0=0.1, generations=1, lam_s=0.01, alpha_s=1.5)
    ch = train_chain(s, SMALL, 3)
    assert ch.student_data.n == round(1.5 * SMALL)
    rec = simulate_once(s, SMALL, 3)
    assert rec["m_t"] == pytest.approx(0.7) and rec["q_t"] == pytest.approx(1.2) and rec["b_t"] == 0.1
    assert math.isnan(rec["V_t"]) and math.isnan(rec["loss_train_t"]) and math.isnan(rec["V_st"])


def test_fresh_samples_keep_the_teacher_and_draw_new_inputs():
    base = KD
    fresh = KD.replace(alpha_s=3.0)
    a, b = train_chain(base, SMALL, 4), train_chain(fresh, SMALL, 4)
    # same seed: the teacher is the same fit on the same first draws
    np.testing.assert_array_equal(a.learners[0].w, b.learners[0].w)
    assert b.student_data is not b.teacher_data and b.student_data.n == 3 * SMALL
    t = b.learners[1].target[1]
    np.testing.assert_allclose(t, b.student_data.X @ b.learners[0].w / np.sqrt(SMALL) + b.learners[0].b)
    assert math.isnan(simulate_once(fresh, SMALL, 4)["V_st"])


def test_aggregate_mean_and_standard_error():
    recs = [dict(KD.to_dict(), d=10, seed=i, converged=True, status="converged", seconds=1.0, m_t=float(v))
            for i, v in enumerate([1.0, 2.0, 4.0])]
    recs.append(dict(recs[0], seed=9, converged=False, status="teacher: diverged", m_t=100.0))
    agg = aggregate(recs)
    assert agg["m_t"] == pytest.approx(7 / 3)
    assert agg["m_t_se"] == pytest.approx(np.std([1, 2, 4], ddof=1) / np.sqrt(3))
    assert agg["n_converged"] == 3 and agg["converged"] is False and agg["status"] == "teacher: diverged"


def test_frame_and_progress():
    df = simulate_frame([KD, KD.replace(xi=0.5)], d=SMALL, seeds=2, progress=True)
    assert len(df) == 2 and {"m_s", "m_s_se", "xi"} <= set(df.columns)
    per_seed = simulate_frame(KD, d=SMALL, seeds=[5, 6], per_seed=True)
    assert list(per_seed["seed"]) == [5, 6]


@pytest.mark.parametrize("bad", [0, 1, 2.5, "100"])
def test_bad_dimension_is_rejected(bad):
    with pytest.raises(ValueError, match="'d'"):
        simulate_once(KD, bad, 0)


def test_bad_seeds_are_rejected():
    with pytest.raises(ValueError, match="'seeds'"):
        simulate(KD, d=SMALL, seeds=0)


def test_hinge_is_refused_with_a_clear_message():
    with pytest.raises(NotImplementedError, match="loss_t='hinge'"):
        simulate_once(Setting(loss_t="hinge", lam_t=0.1), SMALL, 0)


@pytest.mark.parametrize("fields", [dict(), dict(eta=0.5, generations=2)])
def test_peak_memory_is_at_most_three_copies_of_the_data(fields):
    """One seed holds its (n, d) inputs once: no scaled or float32 copies, Hessians formed in row blocks.

    The d x d matrices (a factor per learner and one work array) add 3 (d + 1)^2 / (n d) = 1.5 copies at
    alpha = 2; tracemalloc counts every numpy allocation, so the bound also catches any (n, d) temporary.
    """
    import tracemalloc

    s = KD.replace(**fields)
    d = 400
    simulate_once(s, SMALL, 0)  # imports and one-time caches outside the measurement
    tracemalloc.start()
    try:
        rec = simulate_once(s, d, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rec["converged"] and math.isfinite(rec["V_st"])
    assert peak / (round(s.alpha * d) * d * 8) <= 3.0


def test_responses_only_when_asked():
    """responses=False trains the same learners and leaves every response NaN; cross=False drops V_st only."""
    s = KD.replace(eta=0.6)
    full = simulate_once(s, SMALL, 3)
    bare = simulate_once(s, SMALL, 3, responses=False)
    no_cross = simulate_once(s, SMALL, 3, cross=False)
    for key in ("V_t", "V_s", "V_st"):
        assert math.isfinite(full[key]) and math.isnan(bare[key])
    assert math.isnan(no_cross["V_st"]) and no_cross["V_s"] == full["V_s"]
    for key in ("m_t", "q_t", "m_s", "q_s", "b_s", "eps_s", "agreement"):
        assert bare[key] == full[key]
    assert bare["converged"] and bare["status"] == "converged"
    ch = train_chain(s, SMALL, 3, responses=False)
    assert all(lr.fit.H_inv is None for lr in ch.learners)
