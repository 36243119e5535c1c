"""Finite-size simulations of C-class distillation: exact multinomial ERM on sampled data.

Protocol (DESIGN.md sections 4 and 8), per seed: class means mu (C x d) with Gram matrix exactly G
(mu = G^(1/2) O^T sqrt(d), O with orthonormal columns); n = round(alpha d) samples with
P(y = c) = pi_c and x = mu_y / sqrt(d) + sqrt(delta) z; the teacher minimises
sum_mu CE(y_mu, z(x_mu)) + lam_t / 2 ||W||_F^2; each student, on the same samples,
sum_mu [(1 - xi) CE + xi soft(z(x_mu); h_prev,mu)] + lam_s / 2 ||W||_F^2, with h_prev the previous
learner's training logits.  Weights are parametrised in the complement of 1 (W = U Wr, b = U br,
U = helmert_basis(C)), exact because every loss is shift invariant (or, for logit MSE, its constant
part is absorbed by the bias).  Training: L-BFGS, then Newton with the exact Hessian until the
largest gradient entry is below ``gtol`` (L-BFGS alone stalls near 1e-8 relative).

Observables use the exact population formulas of ``kdscope.theory.multiclass`` given the overlaps
M = W mu^T / d, Q = W W'^T / d and b (the test error and agreement are exact at any d for this data).
Seeds are averaged with standard errors (``<name>_se``), in the theory's column names.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.optimize import minimize

from kdscope.theory.multiclass import MulticlassSetting, agreement, generalization_error, helmert_basis
from kdscope.theory.multiclass.losses import student_loss, CrossEntropy
from kdscope.theory.multiclass.quadrature import sqrtm_psd

__all__ = ["sample_mixture", "fit_multinomial", "simulate_multiclass_once", "simulate_multiclass"]


def sample_mixture(s: MulticlassSetting, d: int, rng: np.random.Generator):
    """(mu (C, d) with mu mu^T / d = G exactly, X (n, d), y (n,)) for one seed."""
    C = s.classes
    O, _ = np.linalg.qr(rng.normal(size=(d, C)))
    mu = sqrtm_psd(s.G) @ O.T * math.sqrt(d)
    n = max(1, int(round(s.alpha * d)))
    y = rng.choice(C, size=n, p=s.p)
    X = mu[y] / math.sqrt(d) + math.sqrt(s.delta) * rng.normal(size=(n, d))
    return mu, X, y


def fit_multinomial(loss, X: np.ndarray, y: np.ndarray, u_prev, lam: float, D: int, gtol: float = 1e-9,
                    max_newton: int = 50):
    """Minimise sum_mu loss(u_mu; y_mu, u_prev,mu) + lam/2 ||Wr||^2, u_mu = Wr x_mu / sqrt(d) + br.

    Returns (Wr (D, d), br (D,), u (n, D) training outputs, Hinv_WW_trace (D, D), gradient norm, converged).
    ``Hinv_WW_trace[i, j] = sum_l [H^-1]_{(i,l),(j,l)} / d``: the response V of the learner (bias profiled out).
    """
    n, d = X.shape
    sq = math.sqrt(d)
    Xs = X / sq
    P = D * d + D

    def split(theta):
        return theta[:D * d].reshape(D, d), theta[D * d:]

    def fun(theta):
        Wr, br = split(theta)
        u = Xs @ Wr.T + br
        g, _, _ = loss.derivatives(u, y, u_prev)
        val = float(np.sum(loss.value(u, y, u_prev)) + 0.5 * lam * np.sum(Wr ** 2))
        grad = np.concatenate([(g.T @ Xs + lam * Wr).ravel(), g.sum(axis=0)])
        return val, grad

    theta = np.zeros(P)
    res = minimize(fun, theta, jac=True, method="L-BFGS-B", options=dict(maxiter=3000, gtol=1e-7, ftol=1e-14))
    theta = res.x
    val, grad = fun(theta)
    converged = False
    Hm = None
    for _ in range(max_newton):
        if np.max(np.abs(grad)) < gtol:
            converged = True
            break
        Hm = _hessian(loss, theta, Xs, y, u_prev, lam, D, split)
        step = -np.linalg.solve(Hm, grad)
        t = 1.0
        for _ in range(40):
            v2, g2 = fun(theta + t * step)
            if v2 <= val + 1e-4 * t * grad @ step or t < 1e-10:
                break
            t *= 0.5
        theta, val, grad = theta + t * step, v2, g2
    Wr, br = split(theta)
    u = Xs @ Wr.T + br
    if Hm is None:  # else the last Newton Hessian, one (converged) step away: good to ~gtol for V
        Hm = _hessian(loss, theta, Xs, y, u_prev, lam, D, split)
    Hinv = np.linalg.inv(Hm)[:D * d, :D * d].reshape(D, d, D, d)
    V = np.einsum("iljl->ij", Hinv) / d
    return Wr, br, u, V, float(np.max(np.abs(grad))), converged


def _hessian(loss, theta, Xs, y, u_prev, lam, D, split):
    n, d = Xs.shape
    Wr, br = split(theta)
    u = Xs @ Wr.T + br
    _, H, _ = loss.derivatives(u, y, u_prev)
    P = D * d + D
    Hm = np.zeros((P, P))
    for i in range(D):
        for j in range(i, D):
            blk = (Xs * H[:, i, j, None]).T @ Xs
            if i == j:
                blk[np.diag_indices(d)] += lam
            Hm[i * d:(i + 1) * d, j * d:(j + 1) * d] = blk
            Hm[j * d:(j + 1) * d, i * d:(i + 1) * d] = blk.T
            cross = Xs.T @ H[:, i, j]
            Hm[i * d:(i + 1) * d, D * d + j] = cross
            Hm[j * d:(j + 1) * d, D * d + i] = cross
            Hm[D * d + j, i * d:(i + 1) * d] = cross
            Hm[D * d + i, j * d:(j + 1) * d] = cross
            Hm[D * d + i, D * d + j] = Hm[D * d + j, D * d + i] = H[:, i, j].sum()
    return Hm


def simulate_multiclass_once(s: MulticlassSetting, d: int, seed: int, gtol: float = 1e-9) -> dict:
    """Train the chain on one sampled data set; the record of one seed (full C-dim quantities)."""
    rng = np.random.default_rng(seed)
    C = s.classes
    D = C - 1
    U = helmert_basis(C)
    mu, X, y = sample_mixture(s, d, rng)
    losses = [CrossEntropy(C)] + [student_loss(C, s.xi, s.soft, s.tau, s.tau2_factor)] * s.generations
    lams = s.lams()
    W, b, outs, rec = [], [], [], {"seed": seed}
    converged = True
    u_prev = None
    for k, loss in enumerate(losses):
        Wr, br, u, V, gnorm, ok = fit_multinomial(loss, X, y, u_prev, float(lams[k]), D, gtol)
        converged &= ok
        Wf, bf = U @ Wr, U @ br
        x = "t" if k == 0 else ("s" if k == 1 else f"s{k}")
        M = Wf @ mu.T / d
        Q = Wf @ Wf.T / d
        rec[f"M_{x}"], rec[f"Q_{x}"], rec[f"b_{x}"], rec[f"V_{x}"] = M, Q, bf, U @ V @ U.T
        rec[f"eps_{x}"] = generalization_error(M, bf, Q, s.delta, s.p)
        rec[f"eps_train_{x}"] = float(np.mean(np.argmax(u @ U.T, axis=1) != y))
        rec[f"loss_train_{x}"] = float(np.mean(loss.value(u, y, u_prev)))
        rec[f"grad_{x}"] = gnorm
        W.append(Wf)
        b.append(bf)
        outs.append(u)
        if k >= 1:
            Qts = W[0] @ Wf.T / d
            key = "agreement" if k == 1 else f"agreement_t{x}"
            rec[f"Q_t{x}"] = Qts
            rec[key] = agreement(rec["M_t"], b[0], M, bf, rec["Q_t"], Q, Qts, s.delta, s.p)
        u_prev = u
    rec["converged"] = bool(converged)
    return rec


def simulate_multiclass(s: MulticlassSetting, d: int = 500, seeds=8, gtol: float = 1e-9) -> dict:
    """Seed averages with standard errors: the theory's keys (matrices as nested lists), '<key>_se' twins,
    plus d, seeds (the list), n_converged, converged, status, seconds.

    seeds : an int (seeds 0 .. seeds - 1) or an iterable of seeds.
    """
    t0 = time.perf_counter()
    seed_list = list(range(seeds)) if isinstance(seeds, (int, np.integer)) else list(seeds)
    runs = [simulate_multiclass_once(s, d, sd, gtol) for sd in seed_list]
    out = dict(s.to_dict())
    for key in runs[0]:
        if key in ("seed", "converged"):
            continue
        vals = np.array([np.asarray(r[key], dtype=float) for r in runs])
        mean = vals.mean(axis=0)
        se = vals.std(axis=0, ddof=1) / math.sqrt(len(runs)) if len(runs) > 1 else np.full_like(mean, np.nan)
        out[key] = mean.tolist() if mean.ndim else float(mean)
        out[f"{key}_se"] = se.tolist() if np.ndim(se) else float(se)
    n_conv = sum(r["converged"] for r in runs)
    out.update(d=int(d), seeds=seed_list, n_converged=int(n_conv), converged=n_conv == len(runs),
               status="converged" if n_conv == len(runs) else f"{len(runs) - n_conv} seed(s) not converged",
               seconds=time.perf_counter() - t0)
    return out
