"""Blocked Hessians and Cholesky-based responses against dense NumPy formulas."""

from __future__ import annotations

import numpy as np
import pytest

from kdscope.simulations import linalg


def _dense_hessian(X, scale, h, lam, with_bias):
    A = scale * X
    if with_bias:
        A = np.column_stack([A, np.ones(len(A))])
    H = A.T @ (h[:, None] * A)
    p = X.shape[1]
    H[np.arange(p), np.arange(p)] += lam
    return H


@pytest.mark.parametrize("with_bias", [True, False])
def test_blocked_hessian_equals_the_dense_formula(rng, with_bias):
    n, d = 1000, 30  # several blocks of rows (block_rows(1000) = 64)
    X = rng.standard_normal((n, d))
    h = rng.random(n)
    dense = _dense_hessian(X, 0.2, h, 0.3, with_bias)
    H = linalg.hessian(X, 0.2, h, 0.3, with_bias)
    assert H.flags.f_contiguous and H.dtype == np.float64
    np.testing.assert_allclose(H, dense, rtol=1e-12, atol=1e-12 * np.abs(dense).max())
    H32 = linalg.hessian(X, 0.2, h, 0.3, with_bias, np.float32)
    assert H32.dtype == np.float32
    np.testing.assert_allclose(H32, dense, rtol=0, atol=1e-5 * np.abs(dense).max())
    # a column view (a sparse student's coordinates) gives the Hessian of those coordinates
    Hs = linalg.hessian(X[:, :12], 0.2, h, 0.3, with_bias)
    np.testing.assert_allclose(Hs, _dense_hessian(X[:, :12], 0.2, h, 0.3, with_bias), rtol=1e-12,
                               atol=1e-12 * np.abs(dense).max())


def test_factor_solves_and_inverts_in_place(rng):
    n, d = 300, 40
    X = rng.standard_normal((n, d))
    h = rng.random(n) + 0.1
    dense = _dense_hessian(X, 0.5, h, 0.2, True)
    L, ok = linalg.factor(linalg.hessian(X, 0.5, h, 0.2, True))
    assert ok
    inv = np.linalg.inv(dense)
    b = rng.standard_normal((d + 1, 3))
    np.testing.assert_allclose(linalg.solve(L, b), inv @ b, rtol=1e-9, atol=1e-12)
    H_inv = linalg.invert_in_place(L)
    assert np.shares_memory(H_inv, L)  # written over the factor: no second (d+1)^2 array
    np.testing.assert_array_equal(H_inv, H_inv.T)
    np.testing.assert_allclose(H_inv, inv, rtol=1e-9, atol=1e-12 * np.abs(inv).max())


def test_a_singular_hessian_is_factored_with_a_shift(rng):
    """Zero curvature and no ridge: H = 0 is not positive definite; the shifted factor is finite."""
    X = rng.standard_normal((10, 20))
    h = np.zeros(10)
    L, ok = linalg.factor(linalg.hessian(X, 1.0, h, 0.0, False))
    assert not ok
    L, shifted = linalg.shifted_factor(lambda: linalg.hessian(X, 1.0, h, 0.0, False), 1.0)
    assert shifted and np.all(np.isfinite(np.tril(L))) and np.all(np.diag(L) > 0)
    L, shifted = linalg.shifted_factor(lambda: linalg.hessian(X, 1.0, h + 1.0, 0.1, False), 1.0)
    assert not shifted
