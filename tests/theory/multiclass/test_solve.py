"""The multi-class saddle point: exact C = 2 reductions to the binary engine, xi = 0, residual, failures.

C = 2 mapping (DESIGN.md section 8): with ridge lam on both rows the optimum has w_1 = -w_2 = w/2, and w is
the binary logistic ERM with ridge lam/2 on G = [[1, -1], [-1, 1]] (rho = pi_1).  Hence M = (m/2) G,
Q = (q/4) G, b = (b_bin/2, -b_bin/2).  The KL soft loss maps to the binary KL at the same tau; the logit MSE
is half the binary MSE, so (1 - xi) CE + xi MSE equals c [(1 - xi') logistic + xi' mse] with
xi' = xi / (2 - xi), c = (2 - xi) / 2, i.e. the binary student ridge is lam_s / (2 - xi).
"""

import numpy as np
import pytest

from kdscope.theory import Setting, solve
from kdscope.theory.multiclass import (MulticlassNotConverged, MulticlassSetting, MulticlassSolverOptions, Status,
                                       solve_multiclass)
from kdscope.theory.multiclass.solve import saddle_map, separable_learner

TOL = 1e-6  # the C = 2 target
G2 = np.array([[1.0, -1.0], [-1.0, 1.0]])


def _compare_learner(rec, brec, x):
    assert abs(rec[f"eps_{x}"] - brec[f"eps_{x}"]) < TOL
    assert np.allclose(rec[f"M_{x}"], 0.5 * brec[f"m_{x}"] * G2, atol=TOL)
    assert np.allclose(rec[f"Q_{x}"], 0.25 * brec[f"q_{x}"] * G2, atol=TOL)
    assert np.allclose(rec[f"b_{x}"], 0.5 * brec[f"b_{x}"] * np.array([1, -1]), atol=TOL)


@pytest.mark.parametrize("rho, alpha, lam", [(0.3, 2.0, 0.2), (0.5, 0.7, 0.05)])
def test_two_class_teacher_equals_binary_logistic(rho, alpha, lam):
    rec = solve_multiclass(MulticlassSetting(classes=2, pi=(rho, 1 - rho), alpha=alpha, delta=0.8, lam_t=lam)).record()
    brec = solve(Setting(alpha=alpha, delta=0.8, rho=rho, lam_t=lam / 2)).record()
    _compare_learner(rec, brec, "t")
    assert abs(rec["eps_bayes"] - brec["eps_bayes"]) < 1e-12


@pytest.mark.parametrize("soft, tau, xi, tau2", [("kl", 1.0, 1.0, True), ("kl", 3.0, 0.5, True),
                                                 ("kl", 2.0, 1.0, True), ("kl", 2.0, 0.7, False),
                                                 ("mse", 1.0, 1.0, True), ("mse", 1.0, 0.5, True)])
def test_two_class_students_equal_binary(soft, tau, xi, tau2):
    lam_t, lam_s, rho = 0.2, 0.03, 0.3
    s = MulticlassSetting(classes=2, pi=(rho, 1 - rho), alpha=2.0, delta=1.0, lam_t=lam_t, lam_s=lam_s,
                          generations=1, xi=xi, soft=soft, tau=tau, tau2_factor=tau2)
    rec = solve_multiclass(s).record()
    if soft == "kl":
        b = Setting(alpha=2.0, delta=1.0, rho=rho, lam_t=lam_t / 2, lam_s=lam_s / 2, generations=1, xi=xi,
                    soft="kl", tau=tau, tau2_factor=tau2)
    else:
        b = Setting(alpha=2.0, delta=1.0, rho=rho, lam_t=lam_t / 2, lam_s=lam_s / (2 - xi), generations=1,
                    xi=xi / (2 - xi), soft="mse")
    brec = solve(b).record()
    for x in ("t", "s"):
        _compare_learner(rec, brec, x)
    assert np.allclose(rec["Q_ts"], 0.25 * brec["q_ts"] * G2, atol=TOL)
    assert abs(rec["agreement"] - brec["agreement"]) < TOL


@pytest.mark.parametrize("classes, tol", [(2, 1e-7), (3, 1e-4)])
def test_xi_zero_student_equals_a_fresh_single_learner(classes, tol):
    base = dict(classes=classes, pi=(0.6, 0.4) if classes == 2 else (0.5, 0.3, 0.2), alpha=2.0, delta=1.0)
    opts = None if classes == 2 else MulticlassSolverOptions(order=(14, 4), quad_tol=1e-3)
    stud = solve_multiclass(MulticlassSetting(**base, lam_t=0.1, lam_s=0.3, generations=1, xi=0.0, soft="kl",
                                              tau=2.0), opts).record()
    alone = solve_multiclass(MulticlassSetting(**base, lam_t=0.3), opts).record()
    assert abs(stud["eps_s"] - alone["eps_t"]) < tol
    assert np.allclose(stud["M_s"], alone["M_t"], atol=tol)
    assert np.allclose(stud["Q_s"], alone["Q_t"], atol=tol)
    assert np.allclose(stud["b_s"], alone["b_t"], atol=tol)


@pytest.fixture(scope="module")
def kd3():
    s = MulticlassSetting(classes=3, pi=(0.5, 0.3, 0.2), alpha=2.0, delta=1.0, lam_t=0.1, lam_s=0.01,
                          generations=1, xi=1.0, tau=2.0)
    return s, solve_multiclass(s, MulticlassSolverOptions(order=(14, 4), quad_tol=1e-3))


def test_three_class_solution_structure(kd3):
    s, sp = kd3
    rec = sp.record()
    assert sp.converged and rec["quad_error"] < 1e-3
    for x in ("t", "s"):
        M, Q, b = (np.array(rec[f"{n}_{x}"]) for n in ("M", "Q", "b"))
        assert np.allclose(M.sum(axis=0), 0, atol=1e-12)    # shift invariance: 1^T M = 0
        assert np.allclose(Q @ np.ones(3), 0, atol=1e-12)    # Q 1 = 0
        assert abs(b.sum()) < 1e-12                          # gauge
        assert np.linalg.eigvalsh(Q).min() > -1e-12
        assert rec["eps_bayes"] < rec[f"eps_{x}"] < 2 / 3
    assert rec["eps_oracle"] < rec["eps_bayes"]
    assert 0.9 < rec["agreement"] < 1.0
    joint = np.block([[np.array(rec["Q_t"]), np.array(rec["Q_ts"])], [np.array(rec["Q_ts"]).T, np.array(rec["Q_s"])]])
    assert np.linalg.eigvalsh(joint).min() > -1e-10


def test_residual_one_more_map_moves_nothing(kd3):
    s, sp = kd3
    x = sp.state.pack()
    new, _ = saddle_map(sp.state, s, sp.order)
    assert np.max(np.abs(new.pack() - x) / (1 + np.abs(x))) < 1e-8


def test_teacher_row_is_unaffected_by_students(kd3):
    s, sp = kd3
    alone = solve_multiclass(s.replace(generations=0), MulticlassSolverOptions(order=(40,)))
    assert abs(alone.eps[0] - sp.eps[0]) < 1e-5
    assert np.allclose(alone.M_full(0), sp.M_full(0), atol=1e-4)


def test_max_iter_status_and_exception():
    s = MulticlassSetting(classes=3, alpha=2.0, lam_t=0.1)
    sp = solve_multiclass(s, MulticlassSolverOptions(max_iter=3), on_failure="record")
    assert sp.status is Status.MAX_ITER and not sp.converged and np.isnan(sp.eps[0])
    with pytest.raises(MulticlassNotConverged, match="max_iter"):
        solve_multiclass(s, MulticlassSolverOptions(max_iter=3))


@pytest.mark.parametrize("options", [MulticlassSolverOptions(max_iter=300, bound=1e6), None])
def test_unregularised_separable_teacher_diverges(options):
    """lam_t = 0 below separability: the shared driver sees the norm run away; reported as the binary engine does."""
    s = MulticlassSetting(classes=3, alpha=0.5, delta=1.0, lam_t=0.0)
    sp = solve_multiclass(s, options, on_failure="record")
    assert sp.status in (Status.DIVERGED, Status.MAX_ITER, Status.NON_FINITE, Status.NO_FINITE_MINIMISER)
    assert sp.status is Status.NO_FINITE_MINIMISER
    assert not sp.converged and np.isnan(sp.eps[0])
    with pytest.raises(MulticlassNotConverged, match="no finite minimiser"):
        solve_multiclass(s, options)


def test_two_class_separability_status_equals_binary():
    """C = 2, lam = 0: the same status as the binary engine on both sides of its separability threshold."""
    for alpha in (1.5, 4.0):
        mc = solve_multiclass(MulticlassSetting(classes=2, alpha=alpha, delta=1.0, lam_t=0.0), on_failure="record")
        bi = solve(Setting(alpha=alpha, delta=1.0, lam_t=0.0), on_failure="record")
        assert mc.status is bi.status
    assert mc.converged and abs(mc.eps[0] - bi.eps[0]) < 1e-3   # large norms: a coarser check than at lam > 0


def test_two_class_separability_is_decided_before_iterating():
    """C = 2: the binary threshold (3.70 at delta = 1, balanced) decides, for the teacher and a label-only student."""
    below = solve_multiclass(MulticlassSetting(classes=2, alpha=3.5, lam_t=0.0), on_failure="record")
    assert below.status is Status.NO_FINITE_MINIMISER and below.n_iter == 0
    stud = MulticlassSetting(classes=2, alpha=3.0, lam_t=0.1, lam_s=0.0, generations=1, xi=0.0)
    assert separable_learner(stud) == 1 and separable_learner(stud.replace(alpha=4.0)) is None
    assert separable_learner(stud.replace(xi=0.5)) is None          # soft targets: no closed-form threshold
    assert separable_learner(MulticlassSetting(classes=3, alpha=0.5, lam_t=0.0)) is None   # C >= 3: the driver decides


def test_failed_warm_start_is_retried_cold():
    s = MulticlassSetting(classes=3, alpha=2.0, lam_t=0.1)
    ref = solve_multiclass(s)
    st = ref.state
    broken = type(st)(st.M, st.Q, st.V, np.full_like(st.b, np.nan))
    sp = solve_multiclass(s, initial=broken)
    assert sp.converged and abs(sp.eps[0] - ref.eps[0]) < 1e-9
    assert sp.n_iter > ref.n_iter          # the failed warm run is counted
    assert solve_multiclass(s, initial=st).n_iter <= 2   # a good warm start is used as it is


def test_two_class_chain_of_two_students_equals_binary():
    """K = 3 (teacher, student, student's student): the chain-order total derivatives.

    Tolerance 1e-5 on q: the binary engine integrates K = 3 with 20 nodes per dimension (errors ~1e-6).
    """
    s = MulticlassSetting(classes=2, pi=(0.3, 0.7), alpha=2.0, lam_t=0.2, lam_s=0.04, generations=2, xi=0.7, tau=2.0)
    rec = solve_multiclass(s, MulticlassSolverOptions(order=(20, 20, 20))).record()
    brec = solve(Setting(alpha=2.0, rho=0.3, lam_t=0.1, lam_s=0.02, generations=2, xi=0.7, tau=2.0)).record()
    for x in ("t", "s", "s2"):
        assert abs(rec[f"eps_{x}"] - brec[f"eps_{x}"]) < 1e-6
        assert np.allclose(rec[f"M_{x}"], 0.5 * brec[f"m_{x}"] * G2, atol=1e-5)
        assert np.allclose(rec[f"Q_{x}"], 0.25 * brec[f"q_{x}"] * G2, atol=1e-5)


def test_quadrature_error_above_tolerance_raises_the_order():
    """Small ridge, large norms: order 40 misses quad_tol = 1e-4; the solver refines to 60 and converges."""
    s = MulticlassSetting(classes=3, gram=((1, 0.8, 0), (0.8, 1, 0), (0, 0, 1)), alpha=2.0, delta=1.0, lam_t=0.01)
    fixed = solve_multiclass(s, MulticlassSolverOptions(refinements=0), on_failure="record")
    assert fixed.status is Status.INACCURATE and fixed.quad_error > 1e-4 and np.isfinite(fixed.eps[0])
    with pytest.raises(MulticlassNotConverged, match="quadrature"):
        solve_multiclass(s, MulticlassSolverOptions(refinements=0))
    refined = solve_multiclass(s)
    assert refined.converged and refined.order[0] > 40 and refined.quad_error <= 1e-4
    assert abs(refined.eps[0] - fixed.eps[0]) < 1e-4
