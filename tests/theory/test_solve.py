"""The saddle-point solver: closed forms, limits, golden values, residual and failure paths."""

import math

import numpy as np
import pytest

from kdscope import Setting
from kdscope.theory import (SaddlePointNotConverged, SolverOptions, Status, bayes_error, gaussian_tail, oracle_error,
                            separability_threshold, solve)
from kdscope.theory.engine import row_problem
from kdscope.theory.rs_map import evaluate


# ------------------------------------------------------------------ baselines
def test_bayes_error_golden_value():
    # balanced: H(sqrt(alpha / (delta (alpha + delta)))) = 0.1241 at alpha = 1, delta = 0.5
    assert bayes_error(1.0, 0.5, 0.5) == pytest.approx(float(gaussian_tail(math.sqrt(1 / (0.5 * 1.5)))), abs=1e-15)
    assert round(bayes_error(1.0, 0.5, 0.5), 4) == 0.1241


def test_bayes_tends_to_oracle_and_oracle_is_optimal_bias():
    assert bayes_error(1e9, 1.0, 0.2) == pytest.approx(oracle_error(1.0, 0.2), abs=1e-8)
    from kdscope.theory.observables import generalization_error, oracle_bias
    b = oracle_bias(1.0, 0.2)
    for db in (-0.05, 0.05):
        assert generalization_error(1.0, 1.0, b + db, 1.0, 0.2) > oracle_error(1.0, 0.2)


# ------------------------------------------------------------ K = 1 closed form
def _ridge_square_closed_form(alpha, delta, lam):
    """Balanced square loss + ridge, solved by hand from the K = 1 equations (b = 0):
    V solves lam delta V^2 + (lam + alpha delta - delta) V - 1 = 0; m = c / (1 + c), c = alpha V / (1 + delta V);
    Q (1 - alpha delta^2 V^2 / (1 + delta V)^2) = V^2 (alpha^2 + alpha delta) (1 - m)^2 / (1 + delta V)^2."""
    B = lam + alpha * delta - delta
    V = (-B + math.sqrt(B * B + 4 * lam * delta)) / (2 * lam * delta)
    c = alpha * V / (1 + delta * V)
    m = c / (1 + c)
    r = (1 + delta * V) ** 2
    Q = V ** 2 * (alpha ** 2 + alpha * delta) * (1 - m) ** 2 / r / (1 - alpha * delta ** 2 * V ** 2 / r)
    return m, Q, V


@pytest.mark.parametrize("alpha, delta, lam", [(0.5, 1.0, 0.1), (2.0, 0.5, 0.01), (5.0, 2.0, 1.0)])
def test_square_loss_matches_closed_form(alpha, delta, lam):
    sp = solve(Setting(alpha=alpha, delta=delta, lam_t=lam, loss_t="square"))
    m, Q, V = _ridge_square_closed_form(alpha, delta, lam)
    assert sp.state.m[0] == pytest.approx(m, rel=1e-8)
    assert sp.state.Q[0, 0] == pytest.approx(Q, rel=1e-8)
    assert sp.state.V[0, 0] == pytest.approx(V, rel=1e-8)
    assert abs(sp.state.b[0]) < 1e-10


def test_large_ridge_gives_the_hebbian_bayes_direction():
    # balanced: as lam -> infinity the logistic estimator aligns with sum_mu y_mu x_mu, which is Bayes-optimal
    sp = solve(Setting(alpha=2.0, delta=1.0, lam_t=1e4))
    assert sp.eps[0] == pytest.approx(bayes_error(2.0, 1.0, 0.5), rel=1e-4)


# ---------------------------------------------------------------- golden values
# Provenance: kdscope engine 2026-11-23 (quadrature order 120, tol 1e-10); each row cross-checked the same day
# against exact L-BFGS logistic fits with |mu|^2 = d (scikit-learn, d = 2000, 4 seeds): agreement within 1 SE.
GOLDEN = [
    # (setting kwargs, eps_t, m_t, q_t)
    (dict(alpha=2.0, delta=0.5, rho=0.5, lam_t=0.1), 0.11660221, 1.66688559, 3.91006024),
    (dict(alpha=2.0, delta=0.5, rho=0.2, lam_t=0.1), 0.10381755, 1.43699105, 3.17338442),
    (dict(alpha=2.0, delta=0.5, rho=0.5, lam_t=0.01), 0.13760809, 3.49723744, 20.54604027),
]


@pytest.mark.parametrize("kwargs, eps, m, q", GOLDEN)
def test_golden_values(kwargs, eps, m, q):
    sp = solve(Setting(**kwargs))
    assert sp.eps[0] == pytest.approx(eps, abs=1e-7)
    assert sp.state.m[0] == pytest.approx(m, rel=1e-6)
    assert sp.state.Q[0, 0] == pytest.approx(q, rel=1e-6)


# ------------------------------------------------------------ distillation limits
def test_xi_zero_student_is_the_single_learner_problem():
    s = Setting(alpha=3.0, delta=1.0, rho=0.2, lam_t=0.1, lam_s=0.05, xi=0.0, generations=1)
    same_order = SolverOptions(order=120)  # identical 1-D quadrature in both problems
    sp = solve(s, options=same_order)
    alone = solve(Setting(alpha=3.0, delta=1.0, rho=0.2, lam_t=0.05), options=same_order)
    assert sp.eps[1] == pytest.approx(alone.eps[0], abs=1e-8)
    assert sp.state.Q[1, 1] == pytest.approx(alone.state.Q[0, 0], rel=1e-7)
    assert sp.state.b[1] == pytest.approx(alone.state.b[0], abs=1e-7)


def test_sparse_student_maps_to_dense_problem():
    # the eta-student equals a dense problem at (alpha / eta, delta / eta, lam / eta^2)
    eta, alpha, delta, lam = 0.5, 3.0, 1.0, 0.05
    sp = solve(Setting(alpha=alpha, delta=delta, rho=0.3, lam_t=0.1, lam_s=lam, xi=0.0, eta=eta, generations=1))
    dense = solve(Setting(alpha=alpha / eta, delta=delta / eta, rho=0.3, lam_t=lam / eta ** 2))
    assert sp.eps[1] == pytest.approx(dense.eps[0], abs=1e-8)
    assert sp.eps_train[1] == pytest.approx(dense.eps_train[0], abs=1e-8)


def test_mse_pure_distillation_copies_the_teacher():
    # xi = 1, logit MSE, eta = 1, lam_s -> 0, alpha > 1: the student reproduces the teacher
    sp = solve(Setting(alpha=3.0, delta=1.0, rho=0.2, lam_t=0.1, lam_s=1e-9, xi=1.0, soft="mse", generations=1))
    assert sp.eps[1] == pytest.approx(sp.eps[0], abs=1e-6)
    assert sp.state.Q[0, 1] == pytest.approx(sp.state.Q[0, 0], rel=1e-6)
    assert sp.agreement_ts == pytest.approx(1.0, abs=1e-4)
    assert sp.train_mse[0, 1] < 1e-8


def test_large_temperature_kl_is_quarter_weight_logit_matching():
    # tau^2 KL -> (z - t)^2 / 8 = (1/4) mse: with xi = 1 it equals mse at 4 lam_s
    base = dict(alpha=2.5, delta=1.0, rho=0.5, lam_t=0.1, xi=1.0, generations=1, eta=0.5)
    kl = solve(Setting(**base, soft="kl", tau=300.0, lam_s=0.05))
    mse = solve(Setting(**base, soft="mse", lam_s=0.2))
    assert kl.eps[1] == pytest.approx(mse.eps[1], abs=1e-5)
    assert kl.state.Q[1, 1] == pytest.approx(mse.state.Q[1, 1], rel=1e-4)


def test_student_of_bayes_teacher_with_mse_reaches_the_bayes_error():
    s = Setting(alpha=3.0, delta=1.0, rho=0.2, teacher="bayes", soft="mse", xi=1.0, lam_s=1e-9, generations=1)
    sp = solve(s)
    assert sp.eps[0] == pytest.approx(bayes_error(3.0, 1.0, 0.2), abs=1e-12)
    assert sp.eps[1] == pytest.approx(sp.eps[0], abs=1e-6)


def test_fresh_samples_teacher_is_the_single_learner_solution():
    s = Setting(alpha=2.0, alpha_s=4.0, delta=1.0, rho=0.2, lam_t=0.1, soft="mse", xi=1.0, lam_s=1e-9, generations=1)
    sp = solve(s)
    alone = solve(Setting(alpha=2.0, delta=1.0, rho=0.2, lam_t=0.1))
    assert sp.eps[0] == pytest.approx(alone.eps[0], abs=1e-10)
    assert sp.eps[1] == pytest.approx(alone.eps[0], abs=1e-6)  # alpha_s > 1, mse, no ridge: a copy


def test_three_generation_chain_with_xi_zero_repeats_the_single_learner():
    # one quadrature order for every block, so that only the equations are compared (the default
    # orders, 120 / 40 / 20 nodes for 1 / 2 / 3 learners, differ by ~1e-7 here)
    sp = solve(Setting(alpha=3.0, delta=1.0, lam_t=0.1, lam_s=0.1, xi=0.0, generations=2), options=SolverOptions(order=20))
    assert sp.eps[1] == pytest.approx(sp.eps[0], abs=1e-10)
    assert sp.eps[2] == pytest.approx(sp.eps[0], abs=1e-10)
    assert sp.record()["eps_s2"] == pytest.approx(sp.eps[2])


# ------------------------------------------------------------------- residual
@pytest.mark.parametrize("kwargs", [
    dict(alpha=2.0, delta=0.5, rho=0.2, lam_t=0.01),
    dict(alpha=3.0, delta=1.0, rho=0.2, lam_t=0.1, lam_s=0.01, xi=0.6, tau=2.0, eta=0.5, generations=1),
])
def test_one_more_iteration_moves_nothing(kwargs):
    s = Setting(**kwargs)
    opts = SolverOptions()
    sp = solve(s, options=opts)
    K = s.n_learners
    y = sp.state.to_solver()
    # the last learner's row is iterated with the upstream rows frozen at their own solution,
    # on the quadrature rule the solution was found with
    problem = row_problem(s, None, sp.order)
    Fy, _, bad = evaluate(problem, y, frozen=y if K > 1 else None)
    assert not bad
    assert np.max(np.abs(Fy - y) / (1 + np.abs(y))) < 10 * opts.tol


def test_upstream_rows_are_the_shorter_chain():
    # triangular equations: the teacher of a KD problem is the teacher alone (one quadrature rule for all
    # three, so that only the equations are compared: by default each chain has its own order)
    same = SolverOptions(order=20)
    kd = solve(Setting(alpha=3.0, rho=0.2, lam_t=0.1, lam_s=0.01, xi=0.7, eta=0.5, generations=2), options=same)
    alone = solve(Setting(alpha=3.0, rho=0.2, lam_t=0.1), options=same)
    one = solve(Setting(alpha=3.0, rho=0.2, lam_t=0.1, lam_s=0.01, xi=0.7, eta=0.5, generations=1), options=same)
    assert kd.eps[0] == pytest.approx(alone.eps[0], abs=1e-12)
    assert kd.eps[1] == pytest.approx(one.eps[1], abs=1e-12)
    assert kd.state.Q[1, 0] == pytest.approx(one.state.Q[1, 0], rel=1e-12)


# ----------------------------------------------------------------- thresholds
def test_separability_threshold_values():
    assert separability_threshold(1.0, 0.5) == pytest.approx(3.70, abs=0.005)
    assert separability_threshold(1e8, 0.5) == pytest.approx(2.0, abs=1e-3)  # Cover's capacity
    # imbalance makes separation easier: a bias can absorb part of the majority class
    assert separability_threshold(1.0, 0.2) > separability_threshold(1.0, 0.5)
    assert separability_threshold(1.0, 0.5, eta=0.5) == pytest.approx(0.5 * separability_threshold(2.0, 0.5))


def test_unregularised_logistic_exists_only_above_separability():
    a_star = separability_threshold(1.0, 0.5)
    above = solve(Setting(alpha=a_star + 0.2, delta=1.0, lam_t=0.0))
    assert above.converged and above.state.Q[0, 0] > 50  # large but finite norm near the threshold
    below = solve(Setting(alpha=1.0, delta=1.0, lam_t=0.0), on_failure="record")
    assert below.status is Status.NO_FINITE_MINIMISER


# ---------------------------------------------------------------- failure paths
def test_max_iter_status_and_error_message():
    s = Setting(alpha=2.0, delta=0.5, lam_t=0.01)
    sp = solve(s, options=SolverOptions(max_iter=2), on_failure="record")
    assert sp.status is Status.MAX_ITER
    assert not sp.converged and np.isnan(sp.eps[0])
    rec = sp.record()
    assert rec["converged"] is False and rec["status"].startswith("stopped at max_iter")
    with pytest.raises(SaddlePointNotConverged, match="max_iter"):
        solve(s, options=SolverOptions(max_iter=2))


def test_divergence_error_names_the_threshold():
    with pytest.raises(SaddlePointNotConverged) as err:
        solve(Setting(alpha=1.0, delta=1.0, lam_t=0.0))
    msg = str(err.value)
    assert "diverged" in msg and "alpha*=3.700" in msg and "add ridge" in msg


def test_bad_on_failure_value():
    with pytest.raises(ValueError, match="on_failure"):
        solve(Setting(), on_failure="ignore")


def test_record_has_the_documented_columns():
    rec = solve(Setting(alpha=2.0, lam_t=0.1, lam_s=0.01, generations=1, eta=0.5)).record()
    for k in ("m_t", "q_t", "V_t", "b_t", "eps_t", "eps_train_t", "loss_train_t", "eps_bayes", "eps_oracle",
              "converged", "iterations", "residual", "m_s", "q_s", "q_ts", "V_s", "V_st", "b_s", "eps_s",
              "eps_train_s", "agreement", "eps_bayes_s", "mse_train_ts"):
        assert k in rec, k
    assert rec["eps_bayes_s"] == pytest.approx(bayes_error(2.0 / 0.5, 1.0 / 0.5, 0.5))


# ----------------------------------------------------------------- hinge loss
def test_hinge_teacher_exists_above_separability_and_diverges_below_without_ridge():
    a_star = separability_threshold(1.0, 0.5)
    assert solve(Setting(alpha=a_star + 1.0, delta=1.0, lam_t=0.0, loss_t="hinge")).converged
    assert (solve(Setting(alpha=2.0, delta=1.0, lam_t=0.0, loss_t="hinge"), on_failure="record").status
            is Status.NO_FINITE_MINIMISER)


def test_hinge_student_with_xi_zero_is_the_hinge_teacher_problem():
    order = SolverOptions(order=120)
    st = solve(Setting(alpha=2.0, lam_t=0.1, generations=1, loss_s="hinge", xi=0.0, lam_s=0.1), options=order)
    alone = solve(Setting(alpha=2.0, lam_t=0.1, loss_t="hinge"))
    assert st.eps[1] == pytest.approx(alone.eps[0], abs=1e-7)
    assert st.loss_train[1] == pytest.approx(alone.loss_train[0], abs=1e-7)


def test_student_training_error_is_stable_in_the_quadrature_order():
    # a logit-matching student nearly copies its teacher: the training error is a step along the teacher's
    # coordinate, integrated on a refined grid; it must not depend on the Gauss-Hermite order
    s = Setting(alpha=2.0, lam_t=0.1, generations=1, xi=1.0, lam_s=0.01, soft="mse")
    errs = [solve(s, options=SolverOptions(order=o)).eps_train[1] for o in (24, 40, 56)]
    assert max(errs) - min(errs) < 1e-6


def test_warm_start_across_a_saturating_change_does_not_return_a_spurious_point():
    # From lam_t = 1 to lam_t = 10 the teacher's outputs become almost constant and a warm-started
    # student iteration can run into the saturated region (bias -> -infinity, where the force underflows
    # to 0). Found by the paper-figure recipes; the cold solution (q_s ~ 0.006) matches simulations.
    s = Setting(alpha=1.5, rho=0.2, eta=0.5, generations=1, xi=1.0, lam_s=1e-4, lam_t=1.0)
    warm = solve(s)
    sp = solve(s.replace(lam_t=10.0), init=warm)
    cold = solve(s.replace(lam_t=10.0))
    assert sp.converged
    assert sp.eps[1] == pytest.approx(cold.eps[1], abs=1e-8)
    assert sp.state.Q[1, 1] == pytest.approx(cold.state.Q[1, 1], rel=1e-5)
    assert sp.state.Q[1, 1] < 0.1
