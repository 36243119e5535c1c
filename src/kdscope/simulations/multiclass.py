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

Variants, as in the binary simulations (``simulations.chain``): with ``alpha_s`` the ERM teacher
trains on its own round(alpha d) samples and the students on round(alpha_s d) fresh ones, their
soft targets the teacher's logits there; a given teacher (``teacher='fixed'``) has weights with
exactly the overlaps m0, q0 (W_0 = m0 G^+ mu + a part orthogonal to the means) and bias b0; a
sparse student (``eta``) trains the first round(eta d) coordinates (inputs still scaled by
1/sqrt(d)).  Draw order from ``default_rng(seed)``: the means; the teacher's samples (ERM) or the
fixed teacher's orthogonal part; then the students' fresh samples (fresh or fixed teacher).

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

from .extrapolate import fit_inverse_d

__all__ = ["sample_mixture", "draw_samples", "fixed_teacher_weights", "fit_multinomial", "simulate_multiclass_once",
           "simulate_multiclass", "extrapolate_multiclass"]


def sample_mixture(s: MulticlassSetting, d: int, rng: np.random.Generator):
    """(mu (C, d) with mu mu^T / d = G exactly, X (n, d), y (n,)) for one seed, n = round(alpha d)."""
    C = s.classes
    O, _ = np.linalg.qr(rng.normal(size=(d, C)))
    mu = sqrtm_psd(s.G) @ O.T * math.sqrt(d)
    X, y = draw_samples(s, mu, max(1, int(round(s.alpha * d))), rng)
    return mu, X, y


def draw_samples(s: MulticlassSetting, mu: np.ndarray, n: int, rng: np.random.Generator):
    """(X (n, d), y (n,)): n samples of the mixture with class means mu."""
    d = mu.shape[1]
    y = rng.choice(s.classes, size=n, p=s.p)
    X = mu[y] / math.sqrt(d) + math.sqrt(s.delta) * rng.normal(size=(n, d))
    return X, y


def fixed_teacher_weights(s: MulticlassSetting, mu: np.ndarray, rng: np.random.Generator):
    """Reduced (W_0 (D, d), b_0 (D,)) of a given teacher with exactly the overlaps ``s.teacher_overlaps()``.

    W_0 = M_0 G^+ mu + S^(1/2) P^T sqrt(d), P (d x D) orthonormal columns orthogonal to the means,
    S = Q_00 - M_0 G^+ M_0^T (reduced coordinates), so W_0 mu^T / d = M_0 and W_0 W_0^T / d = Q_00.
    """
    C, d = mu.shape
    U = helmert_basis(C)
    m0, q0, b0 = s.teacher_overlaps()
    M0, Q0 = U.T @ m0, U.T @ q0 @ U
    Gp = np.linalg.pinv(s.G)
    basis, _ = np.linalg.qr(np.concatenate([mu.T, rng.normal(size=(d, C - 1))], axis=1))
    P = basis[:, C:]       # orthogonal to the first C columns, whose span contains the means
    S = Q0 - M0 @ Gp @ M0.T
    return M0 @ Gp @ mu + sqrtm_psd(S) @ P.T * math.sqrt(d), U.T @ b0


def fit_multinomial(loss, X: np.ndarray, y: np.ndarray, u_prev, lam: float, D: int, gtol: float = 1e-9,
                    max_newton: int = 50, d_norm: int | None = None):
    """Minimise sum_mu loss(u_mu; y_mu, u_prev,mu) + lam/2 ||Wr||^2, u_mu = Wr x_mu / sqrt(d) + br.

    ``d_norm``: the d of the scaling (default X.shape[1]; a sparse student trains X.shape[1] = eta d
    coordinates of a d-dimensional input).
    Returns (Wr (D, p), br (D,), u (n, D) training outputs, Hinv_WW_trace (D, D), gradient norm, converged)
    with p = X.shape[1].  ``Hinv_WW_trace[i, j] = sum_l [H^-1]_{(i,l),(j,l)} / d``: the response V of the
    learner (bias profiled out).
    """
    n, d = X.shape
    sq = math.sqrt(d if d_norm is None else d_norm)
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
    V = np.einsum("iljl->ij", Hinv) / (d if d_norm is None else d_norm)
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


def _learner_record(rec: dict, x: str, s: MulticlassSetting, Wf, bf, mu, d: int) -> None:
    """Overlaps (full coordinates) and test error of one learner; Wf (C, p) on the first p coordinates."""
    p = Wf.shape[1]
    M = Wf @ mu[:, :p].T / d
    Q = Wf @ Wf.T / d
    rec[f"M_{x}"], rec[f"Q_{x}"], rec[f"b_{x}"] = M, Q, bf
    rec[f"eps_{x}"] = generalization_error(M, bf, Q, s.delta, s.p)


def simulate_multiclass_once(s: MulticlassSetting, d: int, seed: int, gtol: float = 1e-9) -> dict:
    """Train the chain on one sampled data set; the record of one seed (full C-dim quantities)."""
    rng = np.random.default_rng(seed)
    C = s.classes
    D = C - 1
    U = helmert_basis(C)
    nan = np.full((C, C), np.nan)
    rec: dict = {"seed": seed}
    converged = True
    lams = s.lams()
    if s.teacher == "fixed":
        O, _ = np.linalg.qr(rng.normal(size=(d, C)))
        mu = sqrtm_psd(s.G) @ O.T * math.sqrt(d)
        W0r, b0r = fixed_teacher_weights(s, mu, rng)
        rec["V_t"], rec["eps_train_t"], rec["loss_train_t"], rec["grad_t"] = nan, np.nan, np.nan, 0.0
    else:
        mu, X, y = sample_mixture(s, d, rng)
        W0r, b0r, u, V, gnorm, ok = fit_multinomial(CrossEntropy(C), X, y, None, float(lams[0]), D, gtol)
        converged &= ok
        rec["V_t"], rec["grad_t"] = U @ V @ U.T, gnorm
        rec["eps_train_t"] = float(np.mean(np.argmax(u @ U.T, axis=1) != y))
        rec["loss_train_t"] = float(np.mean(CrossEntropy(C).value(u, y)))
    _learner_record(rec, "t", s, U @ W0r, U @ b0r, mu, d)
    if s.generations == 0:
        rec["converged"] = bool(converged)
        return rec
    if s.fixed_teacher:  # the students' own samples, soft targets the teacher's logits on them
        X, y = draw_samples(s, mu, max(1, int(round(s.alpha_chain * d))), rng)
        u = X @ W0r.T / math.sqrt(d) + b0r
    d_s = int(round(s.eta * d))
    if d_s < 1:
        raise ValueError(f"simulate_multiclass: round(eta d) = {d_s} at d={d}; increase 'd' (eta={s.eta}).")
    Xs = X[:, :d_s]
    loss = student_loss(C, s.xi, s.soft, s.tau, s.tau2_factor)
    W0f = U @ W0r
    u_prev = u
    for k in range(1, s.n_learners):
        Wr, br, u, V, gnorm, ok = fit_multinomial(loss, Xs, y, u_prev, float(lams[k]), D, gtol, d_norm=d)
        converged &= ok
        x = "s" if k == 1 else f"s{k}"
        Wf, bf = U @ Wr, U @ br
        _learner_record(rec, x, s, Wf, bf, mu, d)
        rec[f"V_{x}"] = U @ V @ U.T
        rec[f"eps_train_{x}"] = float(np.mean(np.argmax(u @ U.T, axis=1) != y))
        rec[f"loss_train_{x}"] = float(np.mean(loss.value(u, y, u_prev)))
        rec[f"grad_{x}"] = gnorm
        Qts = W0f[:, :d_s] @ Wf.T / d
        rec[f"Q_t{x}"] = Qts
        rec["agreement" if k == 1 else f"agreement_t{x}"] = agreement(rec["M_t"], rec["b_t"], rec[f"M_{x}"], bf,
                                                                      rec["Q_t"], rec[f"Q_{x}"], Qts, s.delta, s.p)
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


def _extrapolated(name: str) -> bool:
    """Learner observables (errors, overlaps, responses, training loss and error, agreement); not the
    baselines, not the diagnostics (gradient norms)."""
    return name.split("_")[0] in ("eps", "M", "Q", "b", "V", "agreement", "loss") and name not in ("eps_bayes",
                                                                                                "eps_oracle")


def extrapolate_multiclass(s: MulticlassSetting, ds=(200, 400, 800), seeds=8, gtol: float = 1e-9) -> dict:
    """Simulate at several d and extrapolate each observable to d -> infinity, as the binary
    simulations do (``simulations.extrapolate``): per entry, the weighted least-squares fit
    obs(d) = obs_inf + a / d with weights 1 / SE(d)^2 (:func:`kdscope.simulations.extrapolate.fit_inverse_d`).

    Returns the setting's fields; for every learner observable (matrices entry by entry, as nested
    lists) '<key>_inf', '<key>_inf_se' and '<key>_slope'; 'ds', 'by_d' (the :func:`simulate_multiclass`
    records, the same seeds at every d), 'converged' (all of them) and 'seconds'.
    """
    ds = [int(d) for d in ds]
    if len(ds) < 2:
        raise ValueError(f"extrapolate_multiclass: 'ds' needs at least two dimensions; got {ds}.")
    runs = [simulate_multiclass(s, d, seeds, gtol) for d in ds]
    out = dict(s.to_dict())
    for name in runs[0]:
        if f"{name}_se" not in runs[0] or not _extrapolated(name):
            continue
        vals = np.array([np.asarray(r[name], dtype=float) for r in runs])
        ses = np.array([np.asarray(r[f"{name}_se"], dtype=float) for r in runs])
        shape = vals.shape[1:]
        fits = [fit_inverse_d(ds, v, e) for v, e in zip(vals.reshape(len(ds), -1).T, ses.reshape(len(ds), -1).T)]
        for i, suffix_ in enumerate(("_inf", "_inf_se", "_slope")):
            arr = np.array([f[i] for f in fits]).reshape(shape)
            out[name + suffix_] = arr.tolist() if arr.ndim else float(arr)
    out.update(ds=ds, by_d=runs, converged=all(r["converged"] for r in runs),
               seconds=float(sum(r["seconds"] for r in runs)))
    return out
