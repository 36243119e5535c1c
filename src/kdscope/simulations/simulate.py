"""Finite-size Monte Carlo of a Setting: simulate, average over seeds, tidy tables.

:func:`simulate_once` trains one instance (:func:`kdscope.simulations.chain.train_chain`,
whose docstring states the protocol) and measures it (:mod:`.measure`);
:func:`simulate` averages seeds with standard errors.  Records have the theory's
column names (``kdscope.theory.make_record``).  Differences, by construction:
``V_t`` and ``loss_train_t`` are NaN for a fixed teacher ('bayes', 'fixed'),
which is not trained (its eps_train_t is measured on the students' samples, as
in the theory); ``V_st`` (the cross response) is measured for an ERM teacher
on the same samples and is NaN for fixed and fresh-sample teachers.
"""

from __future__ import annotations

import math
import time

import numpy as np

from kdscope.theory import Setting, bayes_error, learner_suffix, oracle_error

from .chain import Chain, train_chain
from .guards import check_size, seed_list
from .measure import cross_response, learner_observables, pair_observables
from .newton import CONVERGED, FitOptions

NAN = math.nan
META = ("d", "seed", "converged", "status", "seconds")


def simulate_once(setting: Setting, d: int, seed: int, *, options: FitOptions | None = None,
                  cross: bool = True, responses: bool = True) -> dict:
    """One finite-size sample of ``setting`` at dimension d (protocol: :mod:`.chain`).

    Parameters
    ----------
    setting : the problem.  d : dimension (integer >= 2).
    seed : seeds ``np.random.default_rng(seed)``; the run is reproducible.
    options : Newton options (:class:`kdscope.simulations.newton.FitOptions`).
    cross : also measure the cross response V_st (GEMMs of the samples with the
        two inverse Hessians, about the cost of one more Hessian; ERM teacher on
        the same samples only, else NaN).
    responses : measure the responses V (and V_st): one float64 Hessian formed
        and inverted per learner at its solution.  False leaves V_* and V_st NaN
        and trains only (about half the time at alpha = 2).

    Returns
    -------
    dict: the Setting fields, 'd', 'seed', the observables with the theory's
    column names (m_t, q_t, V_t, b_t, eps_t, eps_train_t, loss_train_t, then
    the students' ..._s, ..._s2, ..., q_ts, V_st, agreement, mse_train_ts), the
    baselines eps_bayes, eps_oracle (and eps_bayes_s), 'converged' (every
    trained learner reached its tolerance at a finite minimiser), 'status'
    ('converged' or the first failure, naming the learner) and 'seconds'.
    """
    t0 = time.perf_counter()
    check_size(setting, d)
    ch = train_chain(setting, d, seed, options=options, responses=responses)
    rec = dict(setting.to_dict())
    rec["d"], rec["seed"] = int(d), int(seed)
    rec.update(chain_observables(ch, cross=cross))
    failed = [f"{'teacher' if k == 0 else f'student {k}'}: {lr.status}"
              for k, lr in enumerate(ch.learners) if lr.status != CONVERGED]
    for k in range(setting.n_learners):  # a finite minimiser has finite errors: never 'converged' next to NaN
        x = learner_suffix(k)
        if not failed and not math.isfinite(rec.get(f"eps_{x}", NAN)):
            who = "teacher" if k == 0 else f"student {k}"
            failed.append(f"{who}: non-finite test error eps_{x} (its weights vanished or "
                          f"overflowed in float64: the ridge is too large or too small for this problem)")
    rec["converged"] = not failed
    rec["status"] = failed[0] if failed else CONVERGED
    rec["seconds"] = time.perf_counter() - t0
    return rec


def chain_observables(ch: Chain, cross: bool = True) -> dict:
    """The observables of a trained :class:`~kdscope.simulations.chain.Chain` (theory column names)."""
    s, d = ch.setting, ch.d
    out = {}
    obs = []
    for k, lr in enumerate(ch.learners):
        data = ch.teacher_data if k == 0 else ch.student_data
        loss_value = None if lr.fit is None else ch.losses[k].value(lr.z, lr.target)
        o = learner_observables(lr.w, lr.b, ch.mu, s.delta, s.rho, lr.z, data.y_obs, loss_value,
                                NAN if lr.fit is None else lr.fit.response(d))
        obs.append(o)
        out.update({f"{name}_{learner_suffix(k)}": v for name, v in o.items()})
    if s.generations > 0:
        t, st = ch.learners[0], ch.learners[1]
        t_on_s = st.target[1]  # the teacher's logits on the students' samples
        out.update(pair_observables(t.w, t.b, st.w, st.b, t_on_s, st.z, obs[0], obs[1], s.delta, s.rho))
        out["V_st"] = NAN
        if cross and ch.same_samples and t.fit.H_inv is not None and st.fit.H_inv is not None:
            c = np.broadcast_to(np.asarray(ch.losses[1].cross(st.z, st.target), dtype=float), st.z.shape)
            out["V_st"] = cross_response(t.X, t.fit.H_inv, t.fit.has_bias, st.X, st.fit.H_inv, st.fit.has_bias, c, d,
                                         scale=1.0 / math.sqrt(d))
        alpha_s = s.alpha_s if s.alpha_s is not None else s.alpha
        out["eps_bayes_s"] = bayes_error(alpha_s / s.eta, s.delta / s.eta, s.rho)
    out["eps_bayes"] = bayes_error(s.alpha, s.delta, s.rho)
    out["eps_oracle"] = oracle_error(s.delta, s.rho)
    return out


def observable_names(records: list[dict]) -> list[str]:
    """The numeric observable columns of seed records (not Setting fields, not META)."""
    fields = set(Setting.field_names())
    names = []
    for key, v in records[0].items():
        if key in fields or key in META:
            continue
        if isinstance(v, (float, int, np.floating, np.integer)) and not isinstance(v, bool):
            names.append(key)
    return names


def aggregate(records: list[dict]) -> dict:
    """Average seed records: each observable over the converged seeds, with '<name>_se'.

    The standard error is std(ddof=1) / sqrt(n_converged) (NaN for fewer than
    two converged seeds).  Non-converged seeds are left out of the averages and
    counted: 'converged' is True only if every seed converged.
    """
    r0 = records[0]
    out = {k: r0[k] for k in Setting.field_names()}
    out["kind"] = "sim"
    ok = [r for r in records if r["converged"]]
    for name in observable_names(records):
        vals = np.array([r[name] for r in ok], dtype=float)
        finite = vals[np.isfinite(vals)]
        out[name] = float(np.mean(finite)) if finite.size else NAN
        if finite.size < 2:
            out[f"{name}_se"] = NAN
        elif np.all(finite == finite[0]):  # an exact column (a baseline, a fixed teacher's overlap)
            out[f"{name}_se"] = 0.0
        else:
            out[f"{name}_se"] = float(np.std(finite, ddof=1) / np.sqrt(finite.size))
    out["d"] = r0["d"]
    out["seeds"] = [r["seed"] for r in records]
    out["n_converged"] = len(ok)
    out["converged"] = len(ok) == len(records)
    failures = [r["status"] for r in records if not r["converged"]]
    out["status"] = failures[0] if failures else CONVERGED
    out["seconds"] = float(sum(r["seconds"] for r in records))
    return out


def simulate_seeds(setting: Setting, d: int = 1000, seeds=10, progress: bool = False, **kwargs) -> list[dict]:
    """The list of :func:`simulate_once` records for each seed (tqdm bar if progress)."""
    seeds = seed_list(seeds)
    check_size(setting, d)  # before any allocation: too large a run fails with one sentence
    it = seeds
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(seeds, desc=f"simulate d={d}", leave=False)
    return [simulate_once(setting, d, sd, **kwargs) for sd in it]


def simulate(setting: Setting, d: int = 1000, seeds=10, progress: bool = False, **kwargs) -> dict:
    """Finite-size Monte Carlo of ``setting``: every observable averaged over seeds.

    Parameters
    ----------
    setting : the problem.  d : dimension.
    seeds : number of seeds (0 .. seeds-1) or an explicit list of ints.
    progress : show a tqdm bar.  kwargs : passed to :func:`simulate_once`.

    Returns
    -------
    dict: the Setting fields; each observable (theory column names) averaged
    over the converged seeds with its standard error '<name>_se'; 'd', 'seeds',
    'n_converged', 'converged' (all seeds converged), 'status', 'seconds'.

    Examples
    --------
    >>> from kdscope.theory import Setting
    >>> r = simulate(Setting(alpha=2.0, lam_t=0.1), d=50, seeds=2)
    >>> r["converged"], r["n_converged"], 0 < r["eps_t"] < 0.5
    (True, 2, True)
    """
    return aggregate(simulate_seeds(setting, d, seeds, progress, **kwargs))


def simulate_frame(settings, d: int = 1000, seeds=10, per_seed: bool = False, progress: bool = False, **kwargs):
    """Tidy pandas DataFrame of simulations: one row per Setting (or per Setting and seed).

    Parameters
    ----------
    settings : a Setting or an iterable of Settings.
    d, seeds, progress, kwargs : as in :func:`simulate`.
    per_seed : one row per seed (the raw :func:`simulate_once` records) instead
        of the seed averages.
    """
    import pandas as pd

    if isinstance(settings, Setting):
        settings = [settings]
    rows = []
    for s in settings:
        recs = simulate_seeds(s, d, seeds, progress, **kwargs)
        rows.extend([dict(r, kind="sim") for r in recs] if per_seed else [aggregate(recs)])
    return pd.DataFrame(rows)
