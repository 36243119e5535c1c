"""The speed paths change how fast, not what, the solver computes.

Predicted prox starts (the chain cache) against plain starts, the NumPy prox
against the traced one (JAX), Owen's T against Genz's bivariate normal, and
the observables of a point at the largest order.
"""

import numpy as np
import pytest

from kdscope import Setting
from kdscope.theory import rs_map
from kdscope.theory.channel import CACHE_ROWS
from kdscope.theory.engine import row_problem
from kdscope.theory.losses import KL, Hinge, Logistic, Mix
from kdscope.theory.state import State


def _random_problem(rng, K: int):
    kw = dict(alpha=float(rng.uniform(0.5, 5)), lam_t=float(rng.uniform(0.01, 1)), rho=float(rng.uniform(0.2, 0.5)),
              theta=float(rng.choice([0.0, 0.1])), bias=bool(rng.random() < 0.8))
    fixed = None
    if K > 1:
        kw.update(generations=K - 1, xi=float(rng.choice([0.0, 0.4, 1.0])), lam_s=float(rng.uniform(0.01, 0.5)),
                  eta=float(rng.choice([0.5, 1.0])), soft=str(rng.choice(["kl", "mse", "pseudo"])),
                  tau=float(rng.uniform(1, 3)), loss_s=str(rng.choice(["logistic", "square"])))
        if rng.random() < 0.4:
            kw["teacher"] = "bayes"
    s = Setting(**kw)
    if s.teacher == "bayes":
        fixed = s.teacher_overlaps()
    return s, row_problem(s, fixed, 24 if K < 3 else 10)


def _random_state(rng, K: int) -> np.ndarray:
    A = rng.normal(size=(K, K))
    Q = A @ A.T + 0.5 * np.eye(K)
    V = np.tril(rng.uniform(0.1, 2.0, size=(K, K)))
    m = rng.uniform(0.1, 0.9, K) * np.sqrt(np.diag(Q))
    return State(m, Q, V, rng.normal(size=K) * 0.3).to_solver()


@pytest.mark.parametrize("K", [1, 2, 3])
def test_predicted_prox_starts_give_the_same_map(K):
    # the chain cache of an evaluation at a nearby state only changes where each prox starts
    rng = np.random.default_rng(10 + K)
    for _ in range(12):
        _, p = _random_problem(rng, K)
        x = _random_state(rng, K)
        frozen = x + 0.01 if K > 1 and rng.random() < 0.5 else None
        nan_cache = np.full((CACHE_ROWS * K, p.measure.w.size), np.nan)
        _, cache, _ = rs_map.evaluate(p, x + 0.02 * rng.normal(size=x.size), nan_cache, frozen)
        assert cache.shape == nan_cache.shape
        y1, h1, bad1 = rs_map.evaluate(p, x, None, frozen)
        y2, cache2, bad2 = rs_map.evaluate(p, x, cache, frozen)
        assert bool(bad1) == bool(bad2)
        assert np.max(np.abs(y1 - y2) / (1.0 + np.abs(y1))) < 1e-10
        assert np.max(np.abs(h1 - cache2[:K]) / (1.0 + np.abs(h1))) < 1e-10


def test_numpy_prox_equals_the_traced_prox():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    pytest.importorskip("kdscope.theory.jax_backend")  # registers the JAX kernel (float64)
    rng = np.random.default_rng(3)
    s = rng.normal(scale=5.0, size=400)
    y = np.where(rng.random(400) < 0.5, 1.0, -1.0)
    t = rng.normal(scale=3.0, size=400)
    cases = [(Logistic(), y), (Logistic(smooth=0.1), y), (KL(tau=2.0), t), (Mix(Logistic(), KL(tau=1.5), 0.3), (y, t))]
    for loss, tgt in cases:
        traced = jax.jit(loss.prox)  # one compilation per loss: v is traced
        for v in (0.05, 1.0, 40.0):
            h_np = loss.prox(s, v, tgt)
            jt = tuple(jnp.asarray(a) for a in tgt) if isinstance(tgt, tuple) else jnp.asarray(tgt)
            h_jax = np.asarray(traced(jnp.asarray(s), jnp.asarray(v), jt))
            assert np.max(np.abs(h_np - h_jax) / (1.0 + np.abs(h_np))) < 1e-12
    assert Hinge().prox(s, 1.0, y).shape == s.shape


def test_bivariate_normal_cdf_equals_genz():
    from scipy.stats import multivariate_normal

    from kdscope.theory.observables import bivariate_normal_cdf
    rng = np.random.default_rng(5)
    for i in range(60):
        h, k = rng.normal(scale=2.0, size=2)
        h = 0.0 if i % 7 == 0 else h
        k = 0.0 if i % 11 == 0 else k
        r = float(rng.uniform(-0.999, 0.999))
        ref = float(multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]]).cdf([h, k]))
        assert bivariate_normal_cdf(float(h), float(k), r) == pytest.approx(ref, abs=1e-12)


def test_observables_at_the_largest_order_without_a_finer_rule():
    # K = 3 reaches order 62, the largest whose grid fits (no finer rule, no estimate for the last row):
    # the point is still finished with every observable (the estimate is the upstream blocks')
    from kdscope.theory import solve
    sp = solve(Setting(alpha=2.0, lam_t=0.1, generations=2, xi=1.0, lam_s=0.01))
    assert sp.converged and sp.order == 62
    assert np.all(np.isfinite(sp.eps_train)) and np.all(np.isfinite(sp.loss_train))
