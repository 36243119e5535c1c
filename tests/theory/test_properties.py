"""Invariants of every converged record over a small Setting space (hypothesis)."""

import math

from hypothesis import HealthCheck, given, settings, strategies as st

from kdscope import Setting
from kdscope.theory import SolverOptions, bayes_error, oracle_error, solve

QUAD_TOL = SolverOptions().quad_tol


@st.composite
def small_settings(draw):
    generations = draw(st.sampled_from([0, 1]))
    base = dict(alpha=draw(st.floats(0.5, 6.0)), delta=draw(st.floats(0.3, 2.0)), rho=draw(st.floats(0.2, 0.8)),
                theta=draw(st.sampled_from([0.0, 0.1])), lam_t=10 ** draw(st.floats(-2.0, 0.0)))
    if generations:
        base.update(generations=1, eta=draw(st.sampled_from([1.0, 0.5])), xi=draw(st.floats(0.0, 1.0)),
                    lam_s=10 ** draw(st.floats(-2.0, 0.0)), soft=draw(st.sampled_from(["kl", "mse"])),
                    tau=draw(st.floats(0.5, 3.0)))
    return Setting(**base)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=small_settings())
def test_converged_records_are_physical(s):
    sp = solve(s, on_failure="record")
    rec = sp.record()
    if not sp.converged:
        assert all(math.isnan(x) for x in sp.eps)  # a NaN only next to a status other than converged
        return
    eps_oracle = oracle_error(s.delta, s.rho)
    alpha_s = s.alpha_s if s.alpha_s is not None else s.alpha
    bayes = [bayes_error(s.alpha, s.delta, s.rho)] + [bayes_error(alpha_s / s.eta, s.delta / s.eta, s.rho)] * s.generations
    for k in range(s.n_learners):
        eps = float(sp.eps[k])
        assert eps_oracle - 1e-12 <= eps <= 0.5
        assert eps >= bayes[k] - 1e-9  # no learner beats the Bayes-optimal error of its information
        assert sp.state.m[k] ** 2 <= sp.state.Q[k, k] * (1 + 1e-9)  # (w . mu / d)^2 <= |w|^2 / d since |mu|^2 = d
        assert sp.state.V[k, k] > 0
    assert 0 <= rec["quad_err"] <= QUAD_TOL
    assert rec["converged"] is True and rec["status"] == "converged"
