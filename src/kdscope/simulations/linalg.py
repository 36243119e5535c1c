"""Dense linear algebra of exact training, written to hold few copies of the inputs.

A learner's design is ``A = s X`` (``X`` the (n, p) inputs, possibly a column view,
``s = 1/sqrt(d)`` never applied to a copy of X), with a trained bias appended as a
last column of ones: ``a_mu = (s x_mu, 1)``.  Its Hessian (DESIGN.md section 1,
``l''`` the curvature of the loss in the logit) is

    H = sum_mu l''_mu a_mu a_mu^T + lam diag(1, ..., 1, 0)

accumulated over blocks of :func:`block_rows` rows by a BLAS GEMM that updates H in
place, so forming H costs one (p+1) x (p+1) array plus one block, never an (n, p) copy.
Cholesky factors overwrite H (LAPACK ``potrf``, lower triangle; the upper triangle
keeps H).  From a factor ``H = L L^T``:

- Newton steps: ``H^-1 g`` by two triangular solves;
- the inverse ``H^-1`` written over the factor (LAPACK ``potri``) for the responses
  V (its trace) and V_st (GEMMs against blocks of samples).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import LinAlgError
from scipy.linalg.blas import get_blas_funcs
from scipy.linalg.lapack import get_lapack_funcs

#: Most rows per block when forming a Hessian or applying H^-1 to samples (a block
#: of a d = 4000 problem is then 16 MiB in float64, 1/16 of its inputs).
BLOCK_ROWS = 512


def block_rows(n: int) -> int:
    """Rows per block for n samples: n/16 within [64, BLOCK_ROWS], so a block stays a small
    fraction of the inputs at every size (the GEMM speed is flat over this range)."""
    return int(min(BLOCK_ROWS, max(64, n // 16)))


def design_block(X: np.ndarray, scale: float, rows: slice, with_bias: bool, dtype=np.float64) -> np.ndarray:
    """The rows ``a_mu^T = (scale x_mu, 1)`` of a block, shape (rows, p (+1)), as a new C-ordered array."""
    Xb = X[rows]
    out = np.empty((Xb.shape[0], Xb.shape[1] + int(with_bias)), dtype=dtype)
    np.multiply(Xb, scale, out=out[:, :Xb.shape[1]], casting="same_kind")
    if with_bias:
        out[:, -1] = 1.0
    return out


def hessian(X: np.ndarray, scale: float, h: np.ndarray, lam: float, with_bias: bool,
            dtype=np.float64) -> np.ndarray:
    """``H = sum_mu h_mu a_mu a_mu^T + lam`` on the weights' diagonal, Fortran-ordered, in ``dtype``.

    Parameters
    ----------
    X : (n, p) inputs.  scale : s in ``a_mu = (s x_mu, 1)``.  h : (n,) curvatures >= 0.
    lam : ridge >= 0.  with_bias : append the bias row and column (last).
    dtype : float64 (exact responses) or float32 (a preconditioner at half the cost).
    """
    n, p = X.shape
    m = p + int(with_bias)
    H = np.zeros((m, m), dtype=dtype, order="F")
    gemm = get_blas_funcs("gemm", dtype=dtype)
    step = block_rows(n)
    for i0 in range(0, n, step):
        rows = slice(i0, min(i0 + step, n))
        Ab = design_block(X, scale, rows, with_bias, dtype)
        Bb = Ab * h[rows, None].astype(dtype, copy=False)
        # H += Ab^T Bb, with the F-ordered transposes (m x rows) so that no operand is copied
        H = gemm(1.0, Ab.T, Bb.T, beta=1.0, c=H, trans_b=1, overwrite_c=1)
    H[np.arange(p), np.arange(p)] += lam
    return H


def factor(H: np.ndarray) -> tuple[np.ndarray, bool]:
    """Cholesky ``H = L L^T`` in place (L in the lower triangle of the returned array).

    Returns (L, ok); ok is False when H is not numerically positive definite, and
    then the returned array is spoiled (form H again to add a shift).
    """
    potrf, = get_lapack_funcs(("potrf",), (H,))
    L, info = potrf(H, lower=1, overwrite_a=1, clean=0)
    return L, info == 0


def shifted_factor(build, scale_hint: float) -> tuple[np.ndarray, bool]:
    """Factor ``build()``; if it is not positive definite, factor ``build() + nu I`` for growing nu.

    Returns (L, shifted).  ``build`` forms the matrix afresh (a failed factorisation
    overwrites it); nu starts at 1e-12 times ``scale_hint`` (the mean |diagonal|).
    """
    L, ok = factor(build())
    if ok:
        return L, False
    scale = max(scale_hint, 1e-300)
    nu = 1e-12 * scale
    while nu < 1e12 * scale:
        H = build()
        H[np.diag_indices(len(H))] += nu
        L, ok = factor(H)
        if ok:
            return L, True
        nu *= 100.0
    raise LinAlgError("Hessian could not be factorised even with a large shift")


def solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``H^-1 b`` from the lower factor L (b of shape (m,) or (m, k)); a float32 L solves in float32."""
    potrs, = get_lapack_funcs(("potrs",), (L,))
    x, info = potrs(L, np.asarray(b, dtype=L.dtype), lower=1)
    if info != 0:
        raise LinAlgError(f"potrs failed with info={info}")
    return x.astype(np.float64, copy=False)


def invert_in_place(L: np.ndarray) -> np.ndarray:
    """The symmetric ``H^-1`` from the lower factor L, written over L (LAPACK ``potri``, then the
    lower triangle mirrored into the upper one block by block): no second (m, m) array."""
    potri, = get_lapack_funcs(("potri",), (L,))
    inv, info = potri(L, lower=1, overwrite_c=1)
    if info != 0:
        raise LinAlgError(f"potri failed with info={info}")
    m = len(inv)
    step = max(16, m // 16)
    for j0 in range(0, m, step):
        j1 = min(j0 + step, m)
        block = inv[j0:j1, j0:j1]
        block[:] = np.tril(block) + np.tril(block, -1).T
        inv[j0:j1, j1:] = inv[j1:, j0:j1].T
    return inv
