"""SolverOptions and the Setting guards: every bad value is rejected before any work, with its name."""

import dataclasses
import math

import pytest

from kdscope import Setting
from kdscope.theory import SettingError, SolverOptions, SolverOptionsError, solve
from kdscope.theory.options import OPTION_CONSTRAINTS
from kdscope.theory.quadrature import MIN_ORDER, max_order


def test_every_option_has_a_constraint():
    assert set(OPTION_CONSTRAINTS) == {f.name for f in dataclasses.fields(SolverOptions)}


@pytest.mark.parametrize("name", sorted(OPTION_CONSTRAINTS))
def test_out_of_range_option_is_rejected_with_its_name(name):
    bad = OPTION_CONSTRAINTS[name].example_bad()
    with pytest.raises(SolverOptionsError, match=f"'{name}'"):
        SolverOptions(**{name: bad})


@pytest.mark.parametrize("kwargs, name", [
    (dict(tol=0.0), "tol"), (dict(tol=math.nan), "tol"), (dict(tol=-1e-9), "tol"),
    (dict(damping=0.0), "damping"), (dict(damping=1.5), "damping"),
    (dict(max_iter=0), "max_iter"), (dict(max_iter=2.5), "max_iter"), (dict(max_iter=True), "max_iter"),
    (dict(bound=0.0), "bound"), (dict(bound=math.inf), "bound"),
    (dict(order=1), "order"), (dict(order=4), "order"), (dict(order=MIN_ORDER - 1), "order"),
    (dict(order=100000), "order"), (dict(order="40"), "order"), (dict(memory=-1), "memory"),
    (dict(quad_tol=0.0), "quad_tol"),
])
def test_bad_options_named_in_one_message(kwargs, name):
    with pytest.raises(SolverOptionsError) as err:
        SolverOptions(**kwargs)
    msg = str(err.value)
    assert msg.startswith("SolverOptions: ") and f"'{name}'" in msg and "\n" not in msg
    assert isinstance(err.value, ValueError)


def test_all_violations_reported_together():
    with pytest.raises(SolverOptionsError) as err:
        SolverOptions(tol=-1.0, damping=2.0)
    assert "'tol'" in str(err.value) and "'damping'" in str(err.value)


def test_order_too_large_for_the_chain_is_rejected_before_allocation():
    K = 3
    opts = SolverOptions(order=max_order(K) + 1)  # allowed for K = 1, too many nodes for K = 3
    with pytest.raises(SolverOptionsError, match="'order'"):
        solve(Setting(generations=2, lam_s=0.1, xi=0.5), options=opts)


@pytest.mark.parametrize("order", [MIN_ORDER, 400])
def test_allowed_orders_give_finite_converged_points(order):
    # order 400 overflowed numpy's hermegauss (NaN everywhere); order 8 is the smallest rule allowed
    sp = solve(Setting(alpha=2.0, lam_t=0.1), options=SolverOptions(order=order))
    assert sp.converged and math.isfinite(sp.eps[0]) and sp.order == order


@pytest.mark.parametrize("kwargs, name", [(dict(tau=1e300), "tau"), (dict(tau=1e-300), "tau"),
                                          (dict(generations=5), "generations"),
                                          (dict(generations=1000), "generations")])
def test_setting_guards_against_overflow_and_huge_chains(kwargs, name):
    with pytest.raises(SettingError, match=f"'{name}'"):
        Setting(**kwargs)


def test_largest_temperature_allowed_is_finite():
    s = Setting(alpha=2.5, lam_t=0.1, generations=1, xi=1.0, lam_s=0.05, soft="kl", tau=1e6, eta=0.5)
    sp = solve(s)
    assert sp.converged and math.isfinite(sp.eps[1])
