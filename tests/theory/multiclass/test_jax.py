"""The multi-class map and driver traced under JAX equal the NumPy kernel (the same code, two kernels)."""

import numpy as np
import pytest

jax_engine = pytest.importorskip("kdscope.theory.multiclass.jax_engine")

from kdscope.theory.multiclass import (MulticlassSetting, MulticlassSolverOptions, hierarchical_gram,  # noqa: E402
                                       solve_multiclass)
from kdscope.theory.multiclass.solve import given_teacher, initial_state  # noqa: E402
from kdscope.theory.multiclass.rs_map import map_problem, rs_map  # noqa: E402

TOL = 1e-8
FIXED = dict(teacher="fixed", m0=1.2 * np.array([[1.0, -0.5, -0.5], [-0.5, 1.0, -0.5], [-0.5, -0.5, 1.0]]),
             q0=1.94 * np.array([[1.0, -0.5, -0.5], [-0.5, 1.0, -0.5], [-0.5, -0.5, 1.0]]), b0=(0.3, 0.0, -0.3))


@pytest.mark.parametrize("variant", [dict(soft="kl", tau=2.0, xi=0.6, gram=hierarchical_gram(3, 0.8)),
                                     dict(soft="mse", xi=0.5, eta=0.7, **FIXED)], ids=["kl-hier", "mse-fixed-sparse"])
def test_traced_map_equals_numpy_map(variant):
    """One evaluation of the map, C = 3, K = 2, on a small rule: NumPy vs jit-compiled JAX."""
    s = MulticlassSetting(classes=3, pi=(0.5, 0.3, 0.2), alpha=2.0, lam_t=0.1, lam_s=0.02, generations=1, **variant)
    fixed = given_teacher(s)
    x = initial_state(s, fixed).pack()
    ref = rs_map(initial_state(s, fixed), map_problem(s, fixed), (8, 3))[0].pack()
    got = jax_engine.map_jax(s, fixed, (8, 3), x)
    assert np.max(np.abs(got - ref) / (1 + np.abs(ref))) < 1e-12


@pytest.mark.slow
@pytest.mark.parametrize("variant", [{}, dict(alpha_s=3.0, eta=0.7)], ids=["same-samples", "fresh-sparse"])
def test_jax_solve_equals_numpy(variant):
    """C = 3 KD point: the compiled driver reaches the NumPy fixed point (same iterations), 1e-8 on every
    reported number; a second point of the same structure reuses the compilation."""
    s = MulticlassSetting(classes=3, pi=(0.5, 0.3, 0.2), alpha=2.0, lam_t=0.1, lam_s=0.01, generations=1, xi=1.0,
                          tau=2.0, **variant)
    ref = solve_multiclass(s).record()
    got = solve_multiclass(s, MulticlassSolverOptions(backend="jax")).record()
    assert got["status"] == ref["status"] == "converged" and got["iterations"] == ref["iterations"]
    for k, v in ref.items():
        if k.startswith(("eps", "M_", "Q_", "b_", "V_", "agreement", "loss_train")):
            assert np.allclose(got[k], v, atol=TOL, rtol=0), k
    assert solve_multiclass(s.replace(alpha=2.5), MulticlassSolverOptions(backend="jax")).seconds < 30


def test_backend_is_validated():
    with pytest.raises(ValueError, match="backend"):
        MulticlassSolverOptions(backend="torch")
