"""Solver results and the one column schema of kdscope's records.

A :class:`SaddlePoint` holds a solved Setting; :func:`make_record` flattens it
into a row: the Setting's fields, the observables of every learner under the
suffixes of :func:`learner_suffix` (``m_t, q_t, V_t, b_t, eps_t, eps_train_t,
loss_train_t``, then ``..._s``, ``..._s2`` ...), the pair columns (``q_ts, V_st,
agreement, mse_train_ts``), the baselines of :func:`baseline_columns` and the
solver's status.  Simulations write the same observable names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .fixed_point import Status
from .observables import bayes_error, oracle_error
from .setting import Setting
from .state import State


@dataclass(frozen=True)
class SaddlePoint:
    """The solution of the saddle-point equations for a Setting.

    Attributes
    ----------
    setting : the Setting solved.
    state : order parameters m, Q, V, b of the chain (index k: 0 teacher, 1.. students).
    m_hat, Q_hat, V_hat : conjugates at the solution.
    status, residual, n_iter, seconds : how the solver ended.
    eps : (K,) generalisation errors; eps_train, loss_train : (K,) training error / loss;
    train_mse : (K, K) training logit MSE between learners; agreement_ts : teacher / first student
    test agreement (NaN with no student).
    teacher : the SaddlePoint of the teacher alone (fresh-sample ERM teacher only).
    detail : what went wrong, in words (empty when converged).
    order : the Gauss-Hermite order of the solution.
    quad_err : the quadrature error estimate: the largest relative change of m, Q, V
        when the map is re-evaluated at the solution with a finer rule (NaN if not computed).
    """

    setting: Setting
    state: State
    m_hat: np.ndarray
    Q_hat: np.ndarray
    V_hat: np.ndarray
    status: Status
    residual: float
    n_iter: int
    seconds: float
    eps: np.ndarray
    eps_train: np.ndarray
    loss_train: np.ndarray
    train_mse: np.ndarray
    agreement_ts: float
    teacher: "SaddlePoint | None" = field(default=None, repr=False)
    detail: str = ""
    order: int = 0
    quad_err: float = math.nan

    @property
    def converged(self) -> bool:
        return self.status.ok

    def record(self) -> dict:
        """Flat record: Setting fields, then observables (DESIGN.md column names), then solver status."""
        return make_record(self)


def failed_point(s: Setting, status: Status, residual: float, n_iter: int, seconds: float, detail: str = "",
                 order: int = 0) -> SaddlePoint:
    """A SaddlePoint for a solve that did not converge: NaN observables next to the status."""
    K = s.n_learners
    nan, nanK = np.full(K, np.nan), np.full((K, K), np.nan)
    return SaddlePoint(s, State.nan(K), nan, nanK, nanK, status, float(residual), int(n_iter), float(seconds),
                       nan, nan, nan, nanK, math.nan, None, detail, order)


def learner_suffix(k: int) -> str:
    """Column suffix of learner k: 't' (teacher), 's' (first student), 's2', 's3' ..."""
    return "t" if k == 0 else ("s" if k == 1 else f"s{k}")


def baseline_columns(s: Setting) -> dict:
    """The baselines of every record: ``eps_bayes`` (teacher's samples), ``eps_oracle`` and, with
    students, ``eps_bayes_s`` (a sparse student's bound: the dense problem at alpha_s/eta, delta/eta)."""
    out = {}
    if s.n_learners > 1:
        alpha_s = s.alpha_s if s.alpha_s is not None else s.alpha
        out["eps_bayes_s"] = bayes_error(alpha_s / s.eta, s.delta / s.eta, s.rho)
    out["eps_bayes"] = bayes_error(s.alpha, s.delta, s.rho)
    out["eps_oracle"] = oracle_error(s.delta, s.rho)
    return out


def make_record(sp: SaddlePoint) -> dict:
    """The flat record of a SaddlePoint (the result-store row)."""
    s = sp.setting
    st = sp.state
    rec = dict(s.to_dict())
    for k in range(s.n_learners):
        x = learner_suffix(k)
        rec[f"m_{x}"] = float(st.m[k])
        rec[f"q_{x}"] = float(st.Q[k, k])
        rec[f"V_{x}"] = float(st.V[k, k])
        if k == 0 and s.fixed_teacher:
            # a given teacher has no response on the students' samples; a fresh-sample ERM teacher
            # reports its own V from its single-learner solution
            rec["V_t"] = float(sp.teacher.state.V[0, 0]) if sp.teacher is not None else math.nan
        rec[f"b_{x}"] = float(st.b[k])
        rec[f"eps_{x}"] = float(sp.eps[k])
        rec[f"eps_train_{x}"] = float(sp.eps_train[k])
        rec[f"loss_train_{x}"] = float(sp.loss_train[k])
    if s.n_learners > 1:
        rec["q_ts"] = float(st.Q[0, 1])
        rec["V_st"] = float(st.V[1, 0])
        rec["agreement"] = float(sp.agreement_ts)
        rec["mse_train_ts"] = float(sp.train_mse[0, 1])
    rec.update(baseline_columns(s))
    rec["converged"] = bool(sp.converged)
    rec["status"] = sp.status.value
    rec["iterations"] = int(sp.n_iter)
    rec["residual"] = float(sp.residual)
    rec["order"] = int(sp.order)
    rec["quad_err"] = float(sp.quad_err)
    rec["seconds"] = float(sp.seconds)
    return rec
