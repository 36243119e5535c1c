"""The 3-class bridge: fit the C-class Gaussian mixture to real classes, test the multi-class theory on linear probes.

Protocol (DESIGN.md section 8 for the model, the binary bridge of :mod:`.mixture` for the idea):

1. Data: C classes of a data set (Fashion-MNIST T-shirt/top = 0, shirt = 6, sneaker = 7 by default:
   two alike, one far), pixels flattened.  The training pool of each class is split at random
   into a *fit set* (used only to fit the mixture and the map to model units) and an *experiment
   pool* (the probes' training subsamples); the official test split is the test set.
2. Map to model units (:func:`fit_multiclass_mixture`): the top d principal directions of the
   centred fit set, then whitening by the pooled within-class covariance S (N - C degrees of
   freedom), so the noise is isotropic with delta = 1.  The class means a_c in these units give
   the Gram matrix ``G = a_c . a_c'`` (i.e. mu_c / sqrt(d) = a_c), corrected for the two
   finite-sample biases of the binary bridge: the noise of each estimated mean adds d / n_c to
   G_cc, and the inverse of a Wishart estimate inflates quadratic forms by
   kappa = (N - C) / (N - C - d - 1): ``G = (G_hat - diag(d / n_c)) / kappa``, then projected on the
   PSD cone.  pi = class fractions of the fit set.  (Only differences of the means matter to
   learners with a free bias, so the origin of the means is irrelevant.)
3. Probes, for each alpha and seed: n = round(alpha d) points drawn from the pool without
   replacement; a softmax-regression teacher (ridge lam_t) and a student ((1 - xi) CE + xi soft on
   the teacher's training logits, ridge lam_s) trained exactly with
   :func:`kdscope.simulations.multiclass.fit_multinomial` (the losses of the theory); measured on the
   test set: error, teacher-student agreement, and ``eps_gauss``, the error the learned overlaps
   M = W mu^T / d, Q = W W^T / d and bias would have on the fitted mixture.
4. Theory: :func:`kdscope.theory.multiclass.solve_multiclass` at the fitted (G, pi, delta = 1), same
   alpha, ridges, xi, tau.  Comparison: z = (measured - theory) / se, with
   ``se^2 = sd_seeds^2 / seeds + eps (1 - eps) / n_test`` (the test set is shared by the seeds).

Goodness of fit of the mixture on held-out data (:func:`multiclass_goodness_of_fit`): noise variance
per coordinate (model 1), spread of the class covariances' eigenvalues against Marchenko-Pastur,
the largest difference between two class covariances against its Wishart value, excess kurtosis,
and the oracle's error measured against the theory's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from kdscope.simulations.multiclass import fit_multinomial
from kdscope.theory.multiclass import (MulticlassSetting, MulticlassSolverOptions, agreement, generalization_error, helmert_basis, oracle_error,
                                       solve_multiclass)
from kdscope.theory.multiclass.losses import CrossEntropy, student_loss

__all__ = ["MulticlassBridgeConfig", "MulticlassMixtureFit", "ClassData", "split_classes", "fit_multiclass_mixture",
           "multiclass_goodness_of_fit", "measure_probes", "theory_table", "compare", "run_multiclass_bridge",
           "parse_multiclass_bridge", "load_multiclass_bridge"]


#: Solver options of a second attempt at a point that did not converge (stronger damping, more iterations).
RETRY_OPTIONS = MulticlassSolverOptions(damping=0.5, max_iter=800)


@dataclass(frozen=True)
class MulticlassBridgeConfig:
    """One multi-class bridge run.

    dataset : 'fashion_mnist' or 'digits'.  classes : the C class ids (labels 0..C-1 in this order).
    d : principal components kept (model dimension).  fit_fraction : share of each class's pool used for the fit.
    alphas : sample ratios n / d of the probes.  seeds : subsamples per alpha.
    lam_t, lam_s, xi, tau, soft, tau2_factor : the learners, as in MulticlassSetting.  seed : split and draws.
    """

    dataset: str = "fashion_mnist"
    classes: tuple = (0, 6, 7)
    d: int = 50
    fit_fraction: float = 0.5
    alphas: tuple = (1.0, 2.0, 4.0)
    seeds: int = 8
    lam_t: float = 0.1
    lam_s: float = 0.01
    xi: float = 0.5
    tau: float = 2.0
    soft: str = "kl"
    tau2_factor: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            problems.append(f"'classes' must be at least two distinct class ids; got {self.classes!r}.")
        if not (isinstance(self.d, int) and self.d >= 2):
            problems.append(f"'d' must be an integer >= 2; got {self.d!r}.")
        if not 0 < self.fit_fraction < 1:
            problems.append(f"'fit_fraction' must be in the open interval (0, 1); got {self.fit_fraction!r}.")
        if not self.alphas or min(self.alphas) <= 0:
            problems.append(f"'alphas' must be positive numbers; got {self.alphas!r}.")
        if not (isinstance(self.seeds, int) and self.seeds >= 2):
            problems.append(f"'seeds' must be an integer >= 2 (standard errors); got {self.seeds!r}.")
        if problems:
            raise ValueError("MulticlassBridgeConfig: " + " ".join(problems))
        object.__setattr__(self, "classes", tuple(int(c) for c in self.classes))
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))

    def setting(self, G, pi, alpha: float) -> MulticlassSetting:
        """The MulticlassSetting of this run at sample ratio alpha and the fitted mixture (delta = 1)."""
        return MulticlassSetting(classes=len(self.classes), gram=G, pi=tuple(pi), alpha=float(alpha), delta=1.0,
                                 lam_t=self.lam_t, lam_s=self.lam_s, generations=1, xi=self.xi, soft=self.soft,
                                 tau=self.tau, tau2_factor=self.tau2_factor)


@dataclass(frozen=True)
class ClassData:
    """Flattened features and labels 0..C-1 of the fit set, the experiment pool and the test set."""

    X_fit: np.ndarray
    y_fit: np.ndarray
    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def split_classes(raw, classes, fit_fraction: float = 0.5, seed: int = 0) -> ClassData:
    """The C classes of a RawDataset, relabelled 0..C-1; each class's pool split at random into fit and pool."""
    rng = np.random.default_rng(seed)
    known = set(np.unique(raw.y_pool).tolist())
    missing = [c for c in classes if c not in known]
    if missing:
        raise ValueError(f"'classes' {missing} are not labels of {raw.name} (labels {sorted(known)}).")
    fit, pool = [], []
    for c in classes:
        members = rng.permutation(np.flatnonzero(raw.y_pool == c))
        k = int(round(fit_fraction * len(members)))
        fit.append(members[:k])
        pool.append(members[k:])
    relabel = {c: i for i, c in enumerate(classes)}

    def part(x, y, idx):
        idx = np.sort(idx)
        return np.asarray(x[idx], dtype=float).reshape(len(idx), -1), np.array([relabel[int(v)] for v in y[idx]])

    test_idx = np.flatnonzero(np.isin(raw.y_test, classes))
    return ClassData(*part(raw.x_pool, raw.y_pool, np.concatenate(fit)),
                     *part(raw.x_pool, raw.y_pool, np.concatenate(pool)),
                     *part(raw.x_test, raw.y_test, test_idx))


@dataclass(frozen=True)
class MulticlassMixtureFit:
    """The fitted C-class mixture and the affine map to model units ``x = (X - center) @ M`` (delta = 1).

    G (C, C): Gram matrix of the class means (bias-corrected, PSD).  G_raw: before the corrections.
    pi (C,): class fractions of the fit set.  means (C, d): mean of each class in model units
    (mu_c / sqrt(d) of the model).  counts: class sizes of the fit set.  explained: PCA variance share.
    clipped: the most negative eigenvalue removed by the PSD projection (0 when none).
    """

    center: np.ndarray
    M: np.ndarray
    G: np.ndarray
    G_raw: np.ndarray
    pi: np.ndarray
    means: np.ndarray
    counts: np.ndarray
    explained: float
    clipped: float

    @property
    def d(self) -> int:
        return int(self.M.shape[1])

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=float) - self.center) @ self.M


def fit_multiclass_mixture(X: np.ndarray, y: np.ndarray, d: int) -> MulticlassMixtureFit:
    """PCA to d components, whitening by the pooled within-class covariance, bias-corrected G (module docstring).

    Raises ValueError when there are too few samples (N <= C + d + 1) or the covariance is singular.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    C = int(y.max()) + 1
    N = len(y)
    if N <= C + d + 1 or d > X.shape[1]:
        raise ValueError(f"fit_multiclass_mixture: need N > C + d + 1 and d <= features; got N={N}, C={C}, d={d}, "
                         f"features={X.shape[1]}.")
    c0 = X.mean(axis=0)
    _, sv, vt = np.linalg.svd(X - c0, full_matrices=False)
    U = vt[:d].T
    Z = (X - c0) @ U
    counts = np.array([int(np.sum(y == c)) for c in range(C)])
    means = np.stack([Z[y == c].mean(axis=0) for c in range(C)])
    R = Z - means[y]
    S = R.T @ R / (N - C)
    evals, evecs = np.linalg.eigh(S)
    if evals[0] <= 1e-12 * evals[-1]:
        raise ValueError(f"fit_multiclass_mixture: the within-class covariance is singular in d={d} dimensions; "
                         "lower 'd'.")
    W = (evecs / np.sqrt(evals)) @ evecs.T
    a = means @ W
    G_raw = a @ a.T
    kappa = (N - C) / (N - C - d - 1)
    G = (G_raw - np.diag(d / counts)) / kappa
    G = 0.5 * (G + G.T)
    ev, evec = np.linalg.eigh(G)
    clipped = float(min(0.0, ev.min()))
    G = (evec * np.clip(ev, 0.0, None)) @ evec.T
    return MulticlassMixtureFit(center=c0, M=U @ W, G=G, G_raw=G_raw, pi=counts / N, means=a, counts=counts,
                                explained=float(np.sum(sv[:d] ** 2) / np.sum(sv ** 2)), clipped=clipped)


def _kurtosis(u: np.ndarray) -> np.ndarray:
    u = u - u.mean(axis=0)
    return np.mean(u ** 4, axis=0) / np.mean(u ** 2, axis=0) ** 2 - 3.0


def multiclass_goodness_of_fit(fit: MulticlassMixtureFit, x: np.ndarray, y: np.ndarray, n_directions: int = 20,
                               seed: int = 0) -> dict:
    """Held-out data in model units (x, labels y) against the fitted mixture; each statistic with its model value.

    gof_noise_ratio: mean noise variance per coordinate (model 1).  gof_eig_cv: coefficient of
    variation of the eigenvalues of each class covariance, averaged (model: Marchenko-Pastur
    sqrt(d / N_c), ``gof_eig_cv_gauss``).  gof_cov_asym: largest |S_c - S_c'|_F / |(S_c + S_c')/2|_F over
    pairs (model sqrt((d + 1)(1/N_c + 1/N_c')), ``gof_cov_asym_gauss``).  gof_kurtosis: excess
    kurtosis of the noise on random directions (model 0 +- ``gof_kurtosis_se``).  eps_oracle_measured:
    test error of the plug-in Bayes rule with the fitted means; eps_oracle: its theory value for (G, pi).
    """
    d = fit.d
    C = len(fit.pi)
    covs, ns, noise = [], [], []
    for c in range(C):
        r = x[y == c] - x[y == c].mean(axis=0)
        covs.append(r.T @ r / (len(r) - 1))
        ns.append(len(r))
        noise.append(r)
    out = {"gof_noise_ratio": float(np.mean([np.trace(S) / d for S in covs]))}
    out["gof_eig_cv"] = float(np.mean([np.std(np.linalg.eigvalsh(S)) / np.mean(np.linalg.eigvalsh(S)) for S in covs]))
    out["gof_eig_cv_gauss"] = float(np.mean([math.sqrt(d / n) for n in ns]))
    asym, asym_g = 0.0, 0.0
    for i in range(C):
        for j in range(i + 1, C):
            v = np.linalg.norm(covs[i] - covs[j]) / np.linalg.norm(0.5 * (covs[i] + covs[j]))
            if v > asym:
                asym, asym_g = float(v), float(math.sqrt((d + 1) * (1.0 / ns[i] + 1.0 / ns[j])))
    out["gof_cov_asym"], out["gof_cov_asym_gauss"] = asym, asym_g
    r = np.concatenate(noise)
    dirs = np.random.default_rng(seed).standard_normal((d, n_directions))
    dirs /= np.linalg.norm(dirs, axis=0)
    out["gof_kurtosis"] = float(np.mean(_kurtosis(r @ dirs)))
    out["gof_kurtosis_se"] = float(math.sqrt(24.0 / len(r)))
    scores = x @ fit.means.T - 0.5 * np.sum(fit.means ** 2, axis=1) + np.log(fit.pi)
    out["eps_oracle_measured"] = float(np.mean(np.argmax(scores, axis=1) != y))
    out["eps_oracle"] = float(oracle_error(fit.G, fit.pi, 1.0))
    return out


def measure_probes(cfg: MulticlassBridgeConfig, fit: MulticlassMixtureFit, x_pool, y_pool, x_test, y_test,
                   progress=None) -> pd.DataFrame:
    """One row per (alpha, seed): measured test errors, agreement and eps_gauss of teacher and student."""
    C = len(fit.pi)
    D, d = C - 1, fit.d
    U = helmert_basis(C)
    mu = fit.means * math.sqrt(d)
    losses = [CrossEntropy(C), student_loss(C, cfg.xi, cfg.soft, cfg.tau, cfg.tau2_factor)]
    rows = []
    for ia, alpha in enumerate(cfg.alphas):
        n = int(round(alpha * d))
        if n > len(y_pool):
            raise ValueError(f"alpha={alpha} needs n={n} samples but the experiment pool has {len(y_pool)}.")
        for seed in range(cfg.seeds):
            rng = np.random.default_rng((cfg.seed, seed, ia))
            idx = rng.choice(len(y_pool), size=n, replace=False)
            X, y = x_pool[idx], y_pool[idx]
            row = dict(alpha=alpha, seed=seed, n=n)
            u_prev, pred, W = None, [], []
            for k, (loss, lam, x_) in enumerate(zip(losses, (cfg.lam_t, cfg.lam_s), ("t", "s"))):
                Wr, br, u, _, gnorm, ok = fit_multinomial(loss, X, y, u_prev, float(lam), D)
                Wf, bf = U @ Wr, U @ br
                z = x_test @ Wf.T / math.sqrt(d) + bf
                pred.append(np.argmax(z, axis=1))
                M, Q = Wf @ mu.T / d, Wf @ Wf.T / d
                W.append((Wf, bf, M, Q))
                row[f"eps_{x_}"] = float(np.mean(pred[-1] != y_test))
                row[f"eps_gauss_{x_}"] = generalization_error(M, bf, Q, 1.0, fit.pi)
                row[f"eps_train_{x_}"] = float(np.mean(np.argmax(u @ U.T, axis=1) != y))
                row[f"converged_{x_}"] = bool(ok)
                u_prev = u
            (Wt, bt, Mt, Qt), (Ws, bs, Ms, Qs) = W
            row["agreement"] = float(np.mean(pred[0] == pred[1]))
            row["agreement_gauss"] = agreement(Mt, bt, Ms, bs, Qt, Qs, Wt @ Ws.T / d, 1.0, fit.pi)
            rows.append(row)
            if progress is not None:
                progress(row)
    return pd.DataFrame(rows)


def theory_table(cfg: MulticlassBridgeConfig, fit: MulticlassMixtureFit) -> pd.DataFrame:
    """The multi-class theory at the fitted (G, pi, delta = 1) for each alpha: eps_t, eps_s, agreement, status.

    A point that does not converge is solved again with :data:`RETRY_OPTIONS`.
    """
    rows = []
    for alpha in cfg.alphas:
        s = cfg.setting(fit.G, fit.pi, alpha)
        sp = solve_multiclass(s, on_failure="record")
        if not sp.converged:  # strong signals (large G) can need a stronger damping
            retry = solve_multiclass(s, RETRY_OPTIONS, on_failure="record")
            sp = retry if retry.converged else sp
        rows.append(dict(alpha=alpha, eps_t_theory=float(sp.eps[0]), eps_s_theory=float(sp.eps[1]),
                         agreement_theory=float(sp.agreement[1]), theory_status=sp.status.value,
                         theory_converged=sp.converged, eps_bayes=sp.eps_bayes))
    return pd.DataFrame(rows)


def compare(per_seed: pd.DataFrame, theory: pd.DataFrame, n_test: int) -> pd.DataFrame:
    """Seed means with standard errors (seeds and finite test set), theory beside them, z-scores."""
    rows = []
    for alpha, sub in per_seed.groupby("alpha"):
        th = theory[theory["alpha"] == alpha].iloc[0]
        row = dict(alpha=float(alpha), seeds=int(len(sub)), n=int(sub["n"].iloc[0]))
        for col, tcol in (("eps_t", "eps_t_theory"), ("eps_s", "eps_s_theory"), ("agreement", "agreement_theory")):
            m = float(sub[col].mean())
            se = math.sqrt(sub[col].var(ddof=1) / len(sub) + m * (1 - m) / n_test)
            z = (m - float(th[tcol])) / se if se > 0 else math.nan  # se = 0: every seed and test point agree
            row.update({col: m, f"{col}_se": se, tcol: float(th[tcol]), f"z_{col}": z})
            if f"{col.replace('eps_', 'eps_gauss_')}" in sub.columns and col != "agreement":
                g = col.replace("eps_", "eps_gauss_")
                row[g] = float(sub[g].mean())
                row[f"{g}_se"] = float(sub[g].std(ddof=1) / math.sqrt(len(sub)))
        row.update(theory_status=th["theory_status"], theory_converged=bool(th["theory_converged"]),
                   eps_bayes=float(th["eps_bayes"]),
                   probes_converged=bool(sub[["converged_t", "converged_s"]].all().all()))
        rows.append(row)
    return pd.DataFrame(rows)


def run_multiclass_bridge(cfg: MulticlassBridgeConfig, raw=None, data_dir=None, progress=None) -> dict:
    """Load, split, fit the mixture, measure the probes, solve the theory, compare.

    Returns a dict: 'config', 'mixture' (G, G_raw, pi, explained, clipped, counts), 'gof'
    (goodness of fit on the test set), 'per_seed' and 'comparison' (DataFrames), 'summary'
    (largest |z| per observable, mean |measured - theory|).
    """
    from kdscope.empirical.data import load_raw

    raw = raw if raw is not None else load_raw(cfg.dataset, data_dir)
    data = split_classes(raw, cfg.classes, cfg.fit_fraction, cfg.seed)
    fit = fit_multiclass_mixture(data.X_fit, data.y_fit, cfg.d)
    x_pool, x_test = fit.transform(data.X_pool), fit.transform(data.X_test)
    gof = multiclass_goodness_of_fit(fit, x_test, data.y_test, seed=cfg.seed)
    per_seed = measure_probes(cfg, fit, x_pool, data.y_pool, x_test, data.y_test, progress)
    theory = theory_table(cfg, fit)
    comp = compare(per_seed, theory, len(data.y_test))
    summary = {f"max_abs_z_{c}": float(comp[f"z_{c}"].abs().max()) for c in ("eps_t", "eps_s", "agreement")}
    summary.update({f"mean_abs_diff_{c}": float((comp[c] - comp[f"{c}_theory"]).abs().mean())
                    for c in ("eps_t", "eps_s", "agreement")})
    mixture = dict(G=fit.G.tolist(), G_raw=fit.G_raw.tolist(), pi=fit.pi.tolist(), counts=fit.counts.tolist(),
                   explained=fit.explained, clipped_eigenvalue=fit.clipped, delta=1.0, d=fit.d,
                   cosine_01=float(fit.G[0, 1] / math.sqrt(fit.G[0, 0] * fit.G[1, 1])) if fit.G[0, 0] * fit.G[1, 1] > 0
                   else math.nan)
    return dict(config=asdict(cfg), mixture=mixture, gof=gof, per_seed=per_seed, comparison=comp, summary=summary,
                n_test=int(len(data.y_test)))


#: Keys of an experiment file that describe it without changing the run.
_DESCRIPTIVE = ("name", "description")


def parse_multiclass_bridge(raw, *, quick: bool = False, source: str = "config") -> MulticlassBridgeConfig:
    """A MulticlassBridgeConfig from plain data (a mapping; its ``quick:`` block overrides when ``quick``).

    Unknown keys are refused with the list of known ones; lists become tuples.
    """
    import dataclasses

    if not isinstance(raw, dict):
        raise ValueError(f"{source}: a multi-class bridge file must be a mapping of fields; got {type(raw).__name__}.")
    raw = dict(raw)
    block = raw.pop("quick", None) or {}
    if quick:
        if not isinstance(block, dict):
            raise ValueError(f"{source}: 'quick' must be a mapping of fields to override.")
        raw.update(block)
    known = [f.name for f in dataclasses.fields(MulticlassBridgeConfig)]
    unknown = [k for k in raw if k not in known and k not in _DESCRIPTIVE]
    if unknown:
        raise ValueError(f"{source}: unknown field(s) {unknown}; known: {', '.join(known + list(_DESCRIPTIVE))}.")
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in known}
    return MulticlassBridgeConfig(**kw)


def load_multiclass_bridge(path, *, quick: bool = False) -> MulticlassBridgeConfig:
    """Read ``experiments/multiclass_bridge.yaml`` (safe YAML loader) into a MulticlassBridgeConfig."""
    from pathlib import Path

    import yaml

    return parse_multiclass_bridge(yaml.safe_load(Path(path).read_text()), quick=quick, source=str(path))
