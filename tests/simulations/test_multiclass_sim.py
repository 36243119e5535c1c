"""Multi-class simulations: the exact ERM solver, and theory against simulation at C = 3.

Tolerance (written as a formula): with S seeds and m scalar comparisons in a test, each simulated mean
must lie within  k * SE + eps_quad  of the theory, k = t_{S-1}^{-1}(1 - p / (2 m)) (Student t quantile,
Bonferroni over the m comparisons, family-wise level p = 0.01), SE the standard error over the seeds,
eps_quad = 1e-4 the theory's quadrature error bound at the reduced test order.  No 1/d allowance is
added: at d = 300 the finite-size shifts measured are below one SE.
"""

import numpy as np
import pytest
from scipy.stats import t as student_t

from kdscope.simulations.multiclass import fit_multinomial, sample_mixture, simulate_multiclass
from kdscope.theory.multiclass import MulticlassSetting, MulticlassSolverOptions, hierarchical_gram, solve_multiclass
from kdscope.theory.multiclass.losses import CrossEntropy, student_loss

P_FAMILY = 0.01
EPS_QUAD = 1e-4
PI = (0.5, 0.3, 0.2)


def test_sample_mixture_has_exact_gram(rng):
    s = MulticlassSetting(classes=3, gram=hierarchical_gram(3, 0.8), pi=PI, alpha=1.5)
    mu, X, y = sample_mixture(s, 200, rng)
    assert np.allclose(mu @ mu.T / 200, s.G, atol=1e-12)
    assert X.shape == (300, 200) and set(np.unique(y)) <= {0, 1, 2}


@pytest.mark.parametrize("loss", [CrossEntropy(3), student_loss(3, 0.5, "kl", 2.0), student_loss(3, 1.0, "mse")],
                         ids=["ce", "kl", "mse"])
def test_fit_reaches_a_tight_stationary_point(loss, rng):
    s = MulticlassSetting(classes=3, pi=PI, alpha=2.0)
    mu, X, y = sample_mixture(s, 60, rng)
    up = rng.normal(size=(len(y), 2))
    Wr, br, u, V, gnorm, ok = fit_multinomial(loss, X, y, up, 0.1, 2, gtol=1e-10)
    assert ok and gnorm < 1e-10
    g, _, _ = loss.derivatives(u, y, up)
    assert np.abs(g.T @ X / np.sqrt(60) + 0.1 * Wr).max() < 1e-9   # stationarity in W
    assert np.abs(g.sum(axis=0)).max() < 1e-9                       # and in the bias
    assert np.all(np.linalg.eigvalsh(V) > 0)


def _check(th: dict, sim: dict, keys: list[str]):
    pairs = []
    for k in keys:
        a, m, se = (np.ravel(np.asarray(r, dtype=float)) for r in (th[k], sim[k], sim[k + "_se"]))
        pairs.extend((k, i, a[i], m[i], se[i]) for i in range(len(a)))
    S = len(sim["seeds"])
    kq = student_t.ppf(1 - P_FAMILY / (2 * len(pairs)), S - 1)
    bad = [(k, i, a, m, se) for k, i, a, m, se in pairs if abs(m - a) > kq * se + EPS_QUAD]
    assert not bad, f"k = {kq:.2f}; outside: {bad}"
    z = [abs(m - a) / se for _, _, a, m, se in pairs if se > 0]
    return kq, z


def _point(s, d, seeds, order=(14, 4)):
    opts = MulticlassSolverOptions(order=order, quad_tol=1e-3) if order else None
    th = solve_multiclass(s, opts).record()
    sim = simulate_multiclass(s, d=d, seeds=seeds)
    assert sim["converged"]
    return th, sim


LEARNER_KEYS = ["eps_{x}", "M_{x}", "Q_{x}", "b_{x}", "V_{x}", "loss_train_{x}"]


def _keys(K):
    keys = [k.format(x="t") for k in LEARNER_KEYS]
    if K > 1:
        keys += [k.format(x="s") for k in LEARNER_KEYS] + ["Q_ts", "agreement"]
    return keys


def test_teacher_matches_simulation_hierarchical(seed):
    s = MulticlassSetting(classes=3, gram=hierarchical_gram(3, 0.8), pi=PI, alpha=2.0, delta=1.0, lam_t=0.1)
    th, sim = _point(s, 300, range(10 * seed, 10 * seed + 6), order=(40,))
    _check(th, sim, _keys(1))


@pytest.mark.parametrize("gram, xi, tau, soft", [("simplex", 1.0, 3.0, "kl"), ("hier", 0.5, 1.0, "mse")])
def test_student_matches_simulation(seed, gram, xi, tau, soft):
    G = None if gram == "simplex" else hierarchical_gram(3, 0.8)
    s = MulticlassSetting(classes=3, gram=G, pi=PI, alpha=2.0, delta=1.0, lam_t=0.1, lam_s=0.02, generations=1,
                          xi=xi, tau=tau, soft=soft)
    th, sim = _point(s, 300, range(10 * seed, 10 * seed + 6))
    _check(th, sim, _keys(2))


@pytest.mark.slow
@pytest.mark.parametrize("gram", ["simplex", "hier"])
@pytest.mark.parametrize("xi, tau, soft", [(0.5, 1.0, "kl"), (1.0, 1.0, "kl"), (0.5, 3.0, "kl"), (1.0, 3.0, "kl"),
                                           (0.5, 1.0, "mse"), (1.0, 1.0, "mse")])
def test_student_matches_simulation_grid(seed, gram, xi, tau, soft):
    G = None if gram == "simplex" else hierarchical_gram(3, 0.8)
    s = MulticlassSetting(classes=3, gram=G, pi=PI, alpha=2.0, delta=1.0, lam_t=0.1, lam_s=0.02, generations=1,
                          xi=xi, tau=tau, soft=soft)
    th, sim = _point(s, 500, range(10 * seed, 10 * seed + 8), order=None)
    _check(th, sim, _keys(2))
