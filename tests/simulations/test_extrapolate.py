"""Extrapolation obs(d) = obs_inf + a / d by weighted least squares."""

from __future__ import annotations

import numpy as np
import pytest

from kdscope.simulations import extrapolate
from kdscope.simulations.extrapolate import fit_inverse_d
from kdscope.theory import Setting


def test_exact_line_is_recovered():
    ds = [100, 200, 400]
    vals = [0.3 + 5.0 / d for d in ds]
    inf, se, a = fit_inverse_d(ds, vals, [0.01, 0.01, 0.01])
    assert inf == pytest.approx(0.3) and a == pytest.approx(5.0)
    # two points: obs_inf = (d2 y2 - d1 y1) / (d2 - d1), SE propagated
    inf2, se2, _ = fit_inverse_d([100, 200], [1.0, 2.0], [0.1, 0.2])
    assert inf2 == pytest.approx(3.0)
    assert se2 == pytest.approx(np.hypot(2 * 0.2, 0.1))


def test_exact_columns_pass_through():
    assert fit_inverse_d([10, 20], [0.5, 0.5], [0.0, 0.0]) == (0.5, 0.0, 0.0)


def test_extrapolate_runs_and_names_columns():
    out = extrapolate(Setting(alpha=2.0, lam_t=0.1), ds=(30, 60), seeds=3)
    assert {"eps_t_inf", "eps_t_inf_se", "m_t_inf", "q_t_inf", "eps_bayes"} <= set(out)
    assert out["ds"] == [30, 60] and len(out["by_d"]) == 2 and out["converged"]
    with pytest.raises(ValueError, match="'ds'"):
        extrapolate(Setting(), ds=(30,))
