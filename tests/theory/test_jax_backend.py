"""The JAX backend solves the same saddle-point equations as the NumPy engine (within 1e-8)."""

import numpy as np
import pytest

jax_backend = pytest.importorskip("kdscope.theory.jax_backend")

from kdscope import Setting  # noqa: E402
from kdscope.theory import SolverOptions, Status, solve  # noqa: E402

TOL = 1e-8  # on eps and the overlaps m, Q (the brief's requirement); both solvers stop at residual 1e-10

KD = dict(rho=0.2, eta=0.5, generations=1, lam_s=1e-3, xi=1.0, lam_t=0.1)
POINTS = [
    Setting(alpha=2.0, delta=0.5, rho=0.2, lam_t=0.1),
    Setting(alpha=5.0, rho=0.2, lam_t=0.0),            # unregularised, above separability (hundreds of iterations)
    Setting(alpha=2.0, **KD),
    Setting(**{**KD, "alpha": 3.0, "xi": 0.6, "tau": 2.0}),
    Setting(**{**KD, "alpha": 3.0, "lam_s": 0.01, "tau": 2.0, "tau2_factor": False, "smooth_s": 0.1}),
]


def _compare(sp, ref):
    assert sp.status is ref.status
    if not ref.converged:
        assert np.all(np.isnan(sp.eps))
        return
    assert np.max(np.abs(sp.eps - ref.eps)) < TOL
    assert np.max(np.abs(sp.state.m - ref.state.m)) < TOL
    assert np.max(np.abs(sp.state.Q - ref.state.Q)) < TOL * max(1.0, np.max(np.abs(ref.state.Q)))
    assert np.max(np.abs(sp.state.b - ref.state.b)) < TOL
    r1, r2 = sp.record(), ref.record()
    assert set(r1) == set(r2)
    for k, v in r2.items():
        if isinstance(v, float) and k not in ("seconds", "residual") and np.isfinite(v):
            assert r1[k] == pytest.approx(v, abs=1e-7), k


def test_jax_equals_numpy_on_test_points():
    sps = jax_backend.solve_batch_jax(POINTS)
    for s, sp in zip(POINTS, sps):
        _compare(sp, solve(s, on_failure="record"))


def test_records_and_statuses_are_reported_like_numpy():
    # below separability without ridge: no finite minimiser, NaN observables, never a silent NaN next to 'converged'
    below = Setting(alpha=1.0, lam_t=0.0)
    recs = jax_backend.solve_grid_jax([below, Setting(alpha=2.0, lam_t=0.1)])
    assert recs[0]["status"] == Status.NO_FINITE_MINIMISER.value and recs[0]["converged"] is False
    assert np.isnan(recs[0]["eps_t"])
    assert recs[1]["converged"] is True and np.isfinite(recs[1]["eps_t"])
    assert solve(below, on_failure="record").status is Status.NO_FINITE_MINIMISER


def test_max_iter_status():
    sp = jax_backend.solve_batch_jax([Setting(alpha=2.0, delta=0.5, lam_t=0.01)], SolverOptions(max_iter=2))[0]
    assert sp.status is Status.MAX_ITER and np.isnan(sp.eps[0])


def test_vmapped_batch_equals_the_loop():
    pts = [Setting(alpha=a, lam_t=0.05, rho=0.3) for a in (0.5, 1.5, 4.0)]
    looped = jax_backend.solve_batch_jax(pts, batch=1)
    batched = jax_backend.solve_batch_jax(pts, batch=4)
    for a, b in zip(looped, batched):
        assert b.status is a.status and np.max(np.abs(a.eps - b.eps)) < 1e-12


def test_lines_continuation_matches_cold_solutions():
    base = Setting(alpha=2.0, **KD)
    lines = [[base.replace(alpha=a, lam_t=lam) for a in (1.0, 2.0, 4.0)] for lam in (0.05, 0.5)]
    out = jax_backend.solve_lines_jax(lines)
    for line, sps in zip(lines, out):
        for s, sp in zip(line, sps):
            ref = solve(s)
            assert sp.converged and abs(sp.eps[1] - ref.eps[1]) < TOL


def test_unsupported_loss_names_the_field():
    assert not jax_backend.supports(Setting(loss_t="hinge", lam_t=0.1))
    with pytest.raises(ValueError, match="loss_t='hinge'"):
        jax_backend.solve_batch_jax([Setting(loss_t="hinge", lam_t=0.1)])


@pytest.mark.slow
@pytest.mark.parametrize("kwargs", [
    dict(KD, soft="mse", alpha=0.6),
    dict(KD, soft="pseudo", xi=0.5, alpha=1.5),
    dict(KD, theta=0.1, xi=0.5, alpha=2.5),
    dict(KD, teacher="bayes", lam_t=0.0, alpha=3.0),
    dict(KD, alpha=2.0, alpha_s=4.0),
    dict(KD, generations=2, alpha=3.0, lam_s=0.05),
    dict(alpha=2.0, lam_t=0.1, loss_t="square", theta=0.1),
])
def test_jax_equals_numpy_other_structures(kwargs):
    s = Setting(**kwargs)
    _compare(jax_backend.solve_batch_jax([s])[0], solve(s, on_failure="record"))


EDGES = [
    Setting(alpha=2.0, lam_t=1e-3),                                  # large norm: q ~ 89, V ~ 211 (high order)
    Setting(alpha=2.5, lam_t=0.05, theta=0.1, rho=0.3),             # label noise
    Setting(alpha=1.25 * 2.6427, lam_t=0.0, theta=0.1),             # unregularised, above the noisy threshold
    Setting(alpha=2.0, lam_t=0.0, theta=0.1),                       # below it: no finite minimiser
    Setting(**{**KD, "alpha": 2.5, "theta": 0.1, "xi": 0.5}),
]


@pytest.mark.slow
def test_jax_equals_numpy_within_1e_8_relative_at_the_edges():
    for s, sp in zip(EDGES, jax_backend.solve_batch_jax(EDGES)):
        ref = solve(s, on_failure="record")
        assert sp.status is ref.status, s
        if not ref.converged:
            continue
        assert sp.order == ref.order
        for a, b in ((sp.state.m, ref.state.m), (sp.state.Q, ref.state.Q), (sp.state.V, ref.state.V), (sp.eps, ref.eps)):
            assert np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)) < 1e-8, s
