"""Fit the two-cluster Gaussian mixture of DESIGN.md section 1 to labelled real features.

Model: ``x = y mu / sqrt(d) + sqrt(delta) z`` with ``z ~ N(0, I_d)``,
``P(y = +1) = rho`` and ``|mu|^2 / d = 1``.  Given features ``X`` (N, D) and
labels ``y`` in {-1, +1}, :func:`fit_mixture` builds an affine map to *model
units*, ``x = (X - center) @ M``, and the fitted ``(delta, rho, mu)``:

1. PCA: the top d principal directions ``U`` (D, d) of the centred fit set.
2. Class means ``m_+, m_-`` in those coordinates; centre at the midpoint
   ``c = (m_+ + m_-) / 2``, half-difference ``v = (m_+ - m_-) / 2``.
3. Noise metric ``W`` (d, d) from the pooled within-class covariance
   ``S = sum_c sum_{i in c} (x_i - m_c)(x_i - m_c)^T / (N - 2)``:
   ``whiten=True`` uses ``W = S^{-1/2}`` (the noise becomes isotropic, and the
   mixture's signal is Fisher's discriminant); ``whiten=False`` only rescales,
   ``W = I / sqrt(tr S / d)`` (the isotropic fit of the raw geometry).
   After ``W`` the noise has unit variance per coordinate (on average).
4. Signal strength ``s^2 = |W v|^2`` corrected for its two finite-sample
   biases (Gaussian classes): the noise of the estimated means adds
   ``d sigma_e^2`` with ``sigma_e^2 = (1/n_+ + 1/n_-) / 4``, and the inverse of
   a Wishart estimate inflates quadratic forms by ``kappa = (N - 2) / (N - d - 3)``
   (whitening only, else kappa = 1):
   ``s^2 = (|W v|^2 - d sigma_e^2) / kappa``.
5. Model units: divide by s, so the class means are ``+- W v / s`` (norm ~1,
   i.e. ``|mu|^2 / d = 1``) and the noise variance per coordinate is
   ``delta = 1 / s^2``.  ``rho = n_+ / N``.
6. Rotation (``rotate=True``): a random orthogonal matrix (seeded) followed by
   the Householder reflection that sends the mean direction to the uniform
   vector ``(1, ..., 1) / sqrt(d)``.  Both keep an isotropic noise isotropic;
   afterwards the first ``eta d`` coordinates hold exactly the fraction eta of
   ``|mu|^2`` (the model's ``|mu_S|^2 / d -> eta``), as a sparse student
   assumes.  Without it the student's coordinates are the top principal
   components, which carry more (or less) than their share of the signal.

The fitted ``mu`` is ``sqrt(d)`` times the unit mean direction in model units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kdscope.theory import oracle_bias, oracle_error


@dataclass(frozen=True)
class MixtureFit:
    """The fitted mixture and the affine map from features to model units.

    Attributes
    ----------
    center : (D,) subtracted from the features.  M : (D, d) so that
        ``x = (X - center) @ M`` is in model units.
    delta : noise variance per coordinate, 1 / s^2 (float > 0).
    rho : fraction of the class y = +1 in the fit set.
    mu : (d,) cluster mean in model units times sqrt(d); ``|mu|^2 = d``.
    s2_raw : ``|W v|^2`` before the bias corrections.  n_plus, n_minus : class sizes of the fit set.
    whiten, rotate : how the map was built.  explained : fraction of the total variance kept by the PCA.
    """

    center: np.ndarray
    M: np.ndarray
    delta: float
    rho: float
    mu: np.ndarray
    s2_raw: float
    n_plus: int
    n_minus: int
    whiten: bool
    rotate: bool
    explained: float

    @property
    def d(self) -> int:
        return int(self.M.shape[1])

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Features (N, D) -> model units (N, d): ``(X - center) @ M``."""
        return (np.asarray(X, dtype=float) - self.center) @ self.M

    def support_fraction(self, d_s: int) -> float:
        """``|mu[:d_s]|^2 / |mu|^2``: the share of the signal on a sparse student's coordinates."""
        return float(np.dot(self.mu[:d_s], self.mu[:d_s]) / np.dot(self.mu, self.mu))


def _check_labels(X: np.ndarray, y: np.ndarray, d: int) -> None:
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"fit_mixture: X must be (N, D) and y (N,); got X {X.shape}, y {y.shape}.")
    if not np.all(np.isin(y, (-1, 1))):
        raise ValueError(f"fit_mixture: labels 'y' must be in {{-1, +1}}; got values {np.unique(y)[:5]}.")
    n_plus = int(np.sum(y == 1))
    if min(n_plus, len(y) - n_plus) < 2:
        raise ValueError(f"fit_mixture: each class needs at least 2 samples; got n_+={n_plus}, "
                         f"n_-={len(y) - n_plus}.")
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 1 <= d <= X.shape[1]:
        raise ValueError(f"fit_mixture: 'd' must be an integer in [1, D={X.shape[1]}]; got {d!r}.")
    if X.shape[0] < d + 4:
        raise ValueError(f"fit_mixture: the fit set has N={X.shape[0]} samples; it needs N >= d + 4 = {d + 4} "
                         "to estimate the noise covariance; lower 'd' or give more samples.")


def _orthogonal(rng: np.random.Generator, d: int) -> np.ndarray:
    """A Haar-random orthogonal (d, d) matrix (QR of a Gaussian matrix with the sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _householder(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """The reflection H = I - 2 u u^T with a @ H = e, for unit vectors a, e."""
    u = a - e
    nu = np.linalg.norm(u)
    if nu < 1e-14:
        return np.eye(a.size)
    u = u / nu
    return np.eye(a.size) - 2.0 * np.outer(u, u)


def fit_mixture(X: np.ndarray, y: np.ndarray, d: int, *, whiten: bool = True, rotate: bool = True,
                seed: int = 0) -> MixtureFit:
    """Fit (delta, rho, mu) of the two-cluster mixture and the map to model units (module docstring).

    Parameters
    ----------
    X : (N, D) features of the fit set.  y : (N,) labels in {-1, +1}.
    d : model dimension (number of principal components kept), 1 <= d <= D, N >= d + 4.
    whiten : whiten by the pooled within-class covariance (else rescale only).
    rotate : random rotation and Householder spreading of mu (see the module docstring).
    seed : seed of the random rotation.

    Returns
    -------
    MixtureFit

    Raises
    ------
    ValueError
        Bad shapes or labels, or no detectable signal (corrected ``s^2 <= 0``).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    _check_labels(X, y, d)
    N = X.shape[0]
    c0 = X.mean(axis=0)
    _, sv, vt = np.linalg.svd(X - c0, full_matrices=False)
    U = vt[:d].T
    explained = float(np.sum(sv[:d] ** 2) / np.sum(sv ** 2))
    Z = (X - c0) @ U
    plus, minus = y == 1, y == -1
    n_plus, n_minus = int(plus.sum()), int(minus.sum())
    m_plus, m_minus = Z[plus].mean(axis=0), Z[minus].mean(axis=0)
    c, v = 0.5 * (m_plus + m_minus), 0.5 * (m_plus - m_minus)
    R = np.concatenate([Z[plus] - m_plus, Z[minus] - m_minus])
    S = R.T @ R / (N - 2)
    if whiten:
        evals, evecs = np.linalg.eigh(S)
        if evals[0] <= 1e-12 * evals[-1]:
            raise ValueError(f"fit_mixture: the within-class covariance is singular in d={d} dimensions "
                             "(constant or collinear features); lower 'd' or use whiten=False.")
        W = (evecs / np.sqrt(evals)) @ evecs.T
        kappa = (N - 2) / (N - d - 3)
    else:
        W = np.eye(d) / np.sqrt(np.trace(S) / d)
        kappa = 1.0
    vw = v @ W
    s2_raw = float(vw @ vw)
    sigma_e2 = 0.25 * (1.0 / n_plus + 1.0 / n_minus)
    s2 = (s2_raw - d * sigma_e2) / kappa
    if s2 <= 0:
        raise ValueError(f"fit_mixture: no detectable class signal (|W v|^2={s2_raw:.3g} is within the noise "
                         f"level d sigma_e^2={d * sigma_e2:.3g} of the estimated means); the classes are "
                         "indistinguishable in these features.")
    Q = np.eye(d)
    a = vw / np.sqrt(s2_raw)
    if rotate:
        Q = _orthogonal(np.random.default_rng(seed), d)
        Q = Q @ _householder(a @ Q, np.full(d, 1.0 / np.sqrt(d)))
    s = np.sqrt(s2)
    M = U @ W @ Q / s
    center = c0 + c @ U.T
    mu = np.sqrt(d) * (a @ Q)
    return MixtureFit(center=center, M=M, delta=float(1.0 / s2), rho=n_plus / N, mu=mu, s2_raw=s2_raw,
                      n_plus=n_plus, n_minus=n_minus, whiten=bool(whiten), rotate=bool(rotate), explained=explained)


def _excess_kurtosis(u: np.ndarray) -> np.ndarray:
    """Excess kurtosis of each column of u (N, k): E[(u - mean)^4] / var^2 - 3."""
    u = u - u.mean(axis=0)
    var = np.mean(u ** 2, axis=0)
    return np.mean(u ** 4, axis=0) / var ** 2 - 3.0


def goodness_of_fit(fit: MixtureFit, x: np.ndarray, y: np.ndarray, *, n_directions: int = 20,
                    seed: int = 0) -> dict:
    """How well held-out data in model units follow the fitted isotropic mixture.

    Each statistic comes with its value expected for data drawn from the fitted
    mixture (``*_gauss``), to the leading order in 1/N:

    - ``gof_eig_cv``: coefficient of variation of the eigenvalues of each
      class's covariance divided by delta (averaged over the classes); for the
      model its population value is 0 and the sample value follows
      Marchenko-Pastur, ``cv = sqrt(d / N_c)``.
    - ``gof_cov_asym``: ``|S_+ - S_-|_F / |(S_+ + S_-) / 2|_F``, the difference of
      the class covariances; model: ``sqrt((d + 1)(1/N_+ + 1/N_-))`` (Wishart:
      ``E|S_c - I|_F^2 = (d^2 + d) / N_c``, and ``|I|_F = sqrt(d)``).
    - ``gof_noise_ratio``: mean noise variance per coordinate over delta (model: 1).
    - ``gof_kurtosis``: mean excess kurtosis of the within-class noise projected on
      ``n_directions`` random unit directions; ``gof_kurtosis_mu`` the same along mu
      (model: 0 with standard error ``sqrt(24 / N)``).
    - ``eps_oracle_measured``: the test error on (x, y) of the fitted oracle
      (w = mu, b = (delta / 2) log(rho / (1 - rho))), next to ``eps_oracle`` =
      ``rho H((1 + b)/sqrt(delta)) + (1 - rho) H((1 - b)/sqrt(delta))``.

    Parameters
    ----------
    fit : the fitted mixture.  x : (N, d) held-out data in model units.  y : (N,) labels in {-1, +1}.
    n_directions : random directions for the kurtosis.  seed : their seed.

    Returns
    -------
    dict of floats.
    """
    d = fit.d
    out = {}
    covs, ns, noise = [], [], []
    for cls in (1, -1):
        xc = x[y == cls]
        r = xc - xc.mean(axis=0)
        covs.append(r.T @ r / (len(xc) - 1) / fit.delta)
        ns.append(len(xc))
        noise.append(r)
    cvs = []
    for C in covs:
        ev = np.linalg.eigvalsh(C)
        cvs.append(np.std(ev) / np.mean(ev))
    out["gof_eig_cv"] = float(np.mean(cvs))
    out["gof_eig_cv_gauss"] = float(np.mean([np.sqrt(d / n) for n in ns]))
    avg = 0.5 * (covs[0] + covs[1])
    out["gof_cov_asym"] = float(np.linalg.norm(covs[0] - covs[1]) / np.linalg.norm(avg))
    out["gof_cov_asym_gauss"] = float(np.sqrt((d + 1) * (1.0 / ns[0] + 1.0 / ns[1])))
    out["gof_noise_ratio"] = float(np.trace(avg) / d)
    r = np.concatenate(noise)
    dirs = np.random.default_rng(seed).standard_normal((d, n_directions))
    dirs /= np.linalg.norm(dirs, axis=0)
    out["gof_kurtosis"] = float(np.mean(_excess_kurtosis(r @ dirs)))
    out["gof_kurtosis_mu"] = float(_excess_kurtosis(r @ (fit.mu / np.sqrt(d))[:, None])[0])
    out["gof_kurtosis_se"] = float(np.sqrt(24.0 / len(r)))
    b = oracle_bias(fit.delta, fit.rho)
    z = x @ fit.mu / np.sqrt(d) + b
    out["eps_oracle_measured"] = float(np.mean(np.where(z >= 0, 1, -1) != y))
    out["eps_oracle"] = oracle_error(fit.delta, fit.rho)
    return out


__all__ = ["MixtureFit", "fit_mixture", "goodness_of_fit"]
