"""The result of a multi-class solve: :class:`MulticlassSaddlePoint` and its flat record."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..fixed_point import Status
from .gram import helmert_basis
from .setting import MulticlassSetting
from .state import MulticlassState

__all__ = ["MulticlassSaddlePoint", "suffix"]


def suffix(k: int) -> str:
    """Column suffix of learner k: t (teacher), s (first student), s2, s3 ..."""
    return "t" if k == 0 else ("s" if k == 1 else f"s{k}")


@dataclass(frozen=True)
class MulticlassSaddlePoint:
    """The solution: reduced ``state``, status, residual, iterations, time, quadrature error,
    and the observables (per learner: eps, eps_train, loss_train; agreement with the teacher)."""

    setting: MulticlassSetting
    state: MulticlassState
    status: Status
    residual: float
    n_iter: int
    seconds: float
    quad_error: float
    order: tuple
    eps: np.ndarray
    eps_train: np.ndarray
    loss_train: np.ndarray
    agreement: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eps_bayes: float = np.nan
    eps_oracle: float = np.nan
    teacher: "MulticlassSaddlePoint | None" = None

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED

    def M_full(self, k: int) -> np.ndarray:
        """(C, C): M[j, c] = w_j . mu_c / d of learner k (rows sum to 0)."""
        return helmert_basis(self.setting.classes) @ self.state.M[k]

    def Q_full(self, a: int, b: int) -> np.ndarray:
        """(C, C): W_a W_b^T / d."""
        D = self.setting.classes - 1
        U = helmert_basis(self.setting.classes)
        return U @ self.state.Q[a * D:(a + 1) * D, b * D:(b + 1) * D] @ U.T

    def V_full(self, a: int, b: int) -> np.ndarray:
        """(C, C) response block; a fixed teacher's own response is that of its own solve (fresh samples)
        or undefined (NaN, a given teacher)."""
        if a == 0 and b == 0 and self.setting.fixed_teacher:
            return self.teacher.V_full(0, 0) if self.teacher is not None else np.full((self.setting.classes,) * 2,
                                                                                         np.nan)
        D = self.setting.classes - 1
        U = helmert_basis(self.setting.classes)
        return U @ self.state.V[a * D:(a + 1) * D, b * D:(b + 1) * D] @ U.T

    def b_full(self, k: int) -> np.ndarray:
        """(C,): the bias of learner k in the gauge sum_c b_c = 0."""
        return helmert_basis(self.setting.classes) @ self.state.b[k]

    def record(self) -> dict:
        """Flat record: setting fields, per-learner M_x, Q_x, V_x, b_x (nested lists), eps_x,
        eps_train_x, loss_train_x (x = t, s, s2), Q_ts / agreement with the first student, baselines,
        converged, status, iterations, residual, quad_error, order, seconds."""
        s = self.setting
        rec = dict(s.to_dict())
        for k in range(s.n_learners):
            x = suffix(k)
            rec[f"M_{x}"] = self.M_full(k).tolist()
            rec[f"Q_{x}"] = self.Q_full(k, k).tolist()
            rec[f"V_{x}"] = self.V_full(k, k).tolist()
            rec[f"b_{x}"] = self.b_full(k).tolist()
            rec[f"eps_{x}"] = float(self.eps[k])
            rec[f"eps_train_{x}"] = float(self.eps_train[k])
            rec[f"loss_train_{x}"] = float(self.loss_train[k])
            if k >= 1:
                rec[f"Q_t{x}"] = self.Q_full(0, k).tolist()
                rec[f"agreement_t{x}" if k > 1 else "agreement"] = float(self.agreement[k])
        rec["eps_bayes"] = float(self.eps_bayes)
        rec["eps_oracle"] = float(self.eps_oracle)
        rec.update(converged=self.converged, status=self.status.value, iterations=int(self.n_iter),
                   residual=float(self.residual), quad_error=float(self.quad_error), order=list(self.order),
                   seconds=float(self.seconds))
        return rec
