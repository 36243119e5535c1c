"""Multi-class variants: a fixed (given) teacher, a fresh-sample teacher and a sparse student.

C = 2 mapping as in test_solve.py: ridge lam on both rows is binary ridge lam/2, M = (m/2) G, Q = (q/4) G,
b = (b_bin/2, -b_bin/2); a fixed binary teacher (m0, q0, b0) is the C = 2 teacher with
M_0 = (m0/2) G, Q_00 = (q0/4) G, b_0 = (b0/2, -b0/2).  The variants reduce exactly as the same-sample chain.
"""

import numpy as np
import pytest

from kdscope.theory import Setting, solve
from kdscope.theory.constraints import SettingError
from kdscope.theory.multiclass import MulticlassSetting, MulticlassSolverOptions, Status, solve_multiclass

TOL = 1e-6
G2 = np.array([[1.0, -1.0], [-1.0, 1.0]])
RHO = 0.3
M0, Q0, B0 = 0.8, 1.5, 0.3
BASE = dict(classes=2, pi=(RHO, 1 - RHO), alpha=2.0, delta=1.0, lam_t=0.2, lam_s=0.03, generations=1, xi=0.7,
            tau=2.0)
BINARY = dict(alpha=2.0, delta=1.0, rho=RHO, lam_t=0.1, lam_s=0.015, generations=1, xi=0.7, tau=2.0)
FIXED2 = dict(teacher="fixed", m0=0.5 * M0 * G2, q0=0.25 * Q0 * G2, b0=(B0 / 2, -B0 / 2))


def _assert_reduces(rec, brec):
    for x in ("t", "s"):
        assert abs(rec[f"eps_{x}"] - brec[f"eps_{x}"]) < TOL
        assert np.allclose(rec[f"M_{x}"], 0.5 * brec[f"m_{x}"] * G2, atol=TOL)
        assert np.allclose(rec[f"Q_{x}"], 0.25 * brec[f"q_{x}"] * G2, atol=TOL)
        assert np.allclose(rec[f"b_{x}"], 0.5 * brec[f"b_{x}"] * np.array([1, -1]), atol=TOL)
    assert np.allclose(rec["Q_ts"], 0.25 * brec["q_ts"] * G2, atol=TOL)
    assert abs(rec["agreement"] - brec["agreement"]) < TOL


@pytest.mark.parametrize("variant, binary", [
    (FIXED2, dict(teacher="fixed", m0=M0, q0=Q0, b0=B0)),
    (dict(alpha_s=3.0), dict(alpha_s=3.0)),
    (dict(eta=0.6), dict(eta=0.6)),
    (dict(alpha_s=1.5, eta=0.5), dict(alpha_s=1.5, eta=0.5)),
    ({**FIXED2, "alpha_s": 1.2, "eta": 0.7, "soft": "kl", "xi": 1.0}, dict(teacher="fixed", m0=M0, q0=Q0, b0=B0,
                                                                          alpha_s=1.2, eta=0.7, xi=1.0)),
], ids=["fixed", "fresh", "sparse", "fresh-sparse", "fixed-fresh-sparse"])
def test_two_class_variants_equal_binary(variant, binary):
    s = MulticlassSetting(**{**BASE, **variant})
    rec = solve_multiclass(s).record()
    brec = solve(Setting(**{**BINARY, **binary})).record()
    _assert_reduces(rec, brec)
    assert rec["converged"] and rec["teacher"] == s.teacher and rec["eta"] == s.eta


def test_two_class_sparse_mse_student_equals_binary():
    """Logit MSE is half the binary mse: binary xi' = xi / (2 - xi), lam_s' = lam_s / (2 - xi)."""
    xi = 0.5
    rec = solve_multiclass(MulticlassSetting(**{**BASE, "xi": xi, "soft": "mse", "eta": 0.6})).record()
    brec = solve(Setting(**{**BINARY, "xi": xi / (2 - xi), "soft": "mse", "lam_s": 0.03 / (2 - xi),
                            "eta": 0.6})).record()
    _assert_reduces(rec, brec)


def test_fixed_teacher_row_is_frozen_and_reported():
    s = MulticlassSetting(**{**BASE, **FIXED2})
    sp = solve_multiclass(s)
    rec = sp.record()
    assert np.allclose(rec["M_t"], FIXED2["m0"], atol=1e-12) and np.allclose(rec["Q_t"], FIXED2["q0"], atol=1e-12)
    assert np.allclose(rec["b_t"], FIXED2["b0"], atol=1e-12)
    assert np.isnan(rec["eps_train_t"]) and np.all(np.isnan(rec["V_t"]))   # a given teacher was not trained here


@pytest.fixture(scope="module")
def fresh3():
    s = MulticlassSetting(classes=3, pi=(0.5, 0.3, 0.2), alpha=2.0, delta=1.0, lam_t=0.1, lam_s=0.02, generations=1,
                          xi=1.0, tau=2.0, alpha_s=3.0)
    return s, solve_multiclass(s, MulticlassSolverOptions(order=(14, 4), quad_tol=1e-3))


def test_three_class_fresh_teacher_is_a_fixed_teacher_with_its_own_overlaps(fresh3):
    """C = 3: the fresh-sample chain equals the fixed-teacher chain given the fresh teacher's solved overlaps."""
    s, sp = fresh3
    rec = sp.record()
    t = sp.teacher.record()
    assert t["generations"] == 0 and t["alpha"] == s.alpha and sp.teacher.converged
    fixed = s.replace(alpha_s=None, alpha=3.0, teacher="fixed", m0=t["M_t"], q0=t["Q_t"], b0=t["b_t"])
    frec = solve_multiclass(fixed, MulticlassSolverOptions(order=(14, 4), quad_tol=1e-3)).record()
    for key in ("eps_s", "agreement"):
        assert abs(rec[key] - frec[key]) < 1e-8
    for key in ("M_s", "Q_s", "Q_ts", "b_s"):
        assert np.allclose(rec[key], frec[key], atol=1e-8)
    assert rec["eps_train_t"] == t["eps_train_t"] and np.allclose(rec["V_t"], t["V_t"])
    assert np.isnan(frec["eps_train_t"])


def test_three_class_sparse_student_scales_its_rows(fresh3):
    """A sparse student's Q_ss has eta in front: its norm shrinks with eta at fixed ridge (structure check)."""
    s, _ = fresh3
    opts = MulticlassSolverOptions(order=(14, 4), quad_tol=1e-3)
    q = [np.trace(solve_multiclass(s.replace(alpha_s=None, eta=eta), opts).record()["Q_s"]) for eta in (1.0, 0.5)]
    assert q[1] < q[0]


@pytest.mark.parametrize("kwargs, field", [
    (dict(teacher="fixed", generations=1), "m0"),
    (dict(teacher="fixed", generations=1, m0=np.zeros((2, 2)), q0=np.zeros((3, 3))), "m0"),
    (dict(teacher="fixed", generations=1, m0=0.5 * np.eye(3), q0=0.01 * np.eye(3)), "q0"),
    (dict(m0=np.zeros((3, 3))), "teacher"),
    (dict(alpha_s=2.0), "generations"),
    (dict(eta=0.5), "generations"),
    (dict(eta=0.0, generations=1), "eta"),
    (dict(gram=np.diag([1.0, 1.0, 0.0]), teacher="fixed", generations=1, m0=np.eye(3), q0=np.eye(3)), "row space"),
])
def test_bad_variant_settings_name_the_field(kwargs, field):
    with pytest.raises(SettingError, match=field):
        MulticlassSetting(**kwargs)


def test_fresh_teacher_failure_is_reported():
    s = MulticlassSetting(classes=3, alpha=0.5, lam_t=0.0, generations=1, alpha_s=2.0)
    sp = solve_multiclass(s, on_failure="record")
    assert sp.status is Status.NO_FINITE_MINIMISER and np.isnan(sp.eps[1])


def test_variant_fields_keep_plain_keys_stable():
    plain = MulticlassSetting(generations=1)
    assert plain.key() == MulticlassSetting(generations=1, teacher="erm", eta=1.0, alpha_s=None).key()
    assert plain.key() != MulticlassSetting(generations=1, eta=0.5).key()
