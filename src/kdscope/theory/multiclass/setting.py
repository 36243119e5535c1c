"""The multi-class distillation problem: :class:`MulticlassSetting`.

Data (DESIGN.md section 8): ``P(y = c) = pi_c``, ``x = mu_y / sqrt(d) + sqrt(delta) z``
with class means of Gram matrix ``G``.  Learner k has logits
``z_k = W_k x / sqrt(d) + b_k`` (W_k of shape C x d, unregularised bias b_k) and
minimises on the same ``n = alpha d`` samples
``sum_mu loss_k(z_k(x_mu); y_mu, z_{k-1}(x_mu)) + lam_k / 2 ||W_k||_F^2`` with the
teacher's loss the softmax cross-entropy and a student's
``(1 - xi) CE + xi soft``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..constraints import Choice, Flag, Interval, SettingError, field_problems
from .gram import gram_problems, simplex_gram

__all__ = ["MulticlassSetting", "MULTICLASS_CONSTRAINTS", "MAX_CLASSES", "MAX_GAUSSIAN_DIM", "SOFT_LOSSES"]

#: Largest number of classes accepted.
MAX_CLASSES = 8
#: Largest dimension K (C - 1) of the Gaussian integrals (tensor Gauss-Hermite rule): K learners, C classes.
MAX_GAUSSIAN_DIM = 6
SOFT_LOSSES = ("kl", "mse")
INF = math.inf


@dataclass(frozen=True)
class _Gram:
    """A C x C positive semi-definite matrix, or None (the simplex)."""

    def describe(self) -> str:
        return "a symmetric positive semi-definite classes x classes matrix, or None (simplex)"

    def check(self, name: str, value: Any) -> str | None:
        if value is None:
            return None
        try:
            G = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return f"'{name}' must be {self.describe()}; got {value!r}."
        if G.ndim != 2 or G.shape[0] != G.shape[1]:
            return f"'{name}' must be {self.describe()}; got shape {G.shape}."
        return None

    def example_bad(self) -> Any:
        return ((1.0, 2.0), (2.0, 1.0))  # indefinite


@dataclass(frozen=True)
class _Probabilities:
    """A probability vector with positive entries, or None (uniform)."""

    def describe(self) -> str:
        return "a vector of classes positive probabilities summing to 1, or None (uniform)"

    def check(self, name: str, value: Any) -> str | None:
        if value is None:
            return None
        try:
            p = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return f"'{name}' must be {self.describe()}; got {value!r}."
        if p.ndim != 1 or not np.all(np.isfinite(p)) or np.any(p <= 0) or abs(p.sum() - 1.0) > 1e-9:
            return f"'{name}' must be {self.describe()}; got {value!r}."
        return None

    def example_bad(self) -> Any:
        return (0.7, 0.7)


@dataclass(frozen=True)
class MulticlassSetting:
    """A C-class teacher -> student distillation problem on the Gaussian mixture.

    Parameters
    ----------
    classes : int in [2, MAX_CLASSES]
        Number of classes C.
    gram : C x C PSD matrix or None
        Gram matrix of the class means, G[c, c'] = mu_c . mu_c' / d (None: ``simplex_gram(C)``).
        Stored as a tuple of tuples.
    pi : length-C probability vector or None
        Class probabilities (None: uniform).
    alpha : float in (0, inf)
        Samples per dimension n / d.
    delta : float in (0, inf)
        Noise variance per input coordinate.
    lam_t, lam_s : float in [0, inf)
        Ridge of the teacher and of the students (on ||W||_F^2 / 2).
    generations : int in [0, 2]
        Number of students in the chain (0: the teacher alone).
    xi : float in [0, 1]
        Weight of the soft term in a student's loss.
    soft : {'kl', 'mse'}
        ``kl``: tau^2 KL(softmax(h_prev / tau) || softmax(z / tau)) (the tau^2 factor only when
        ``tau2_factor``); ``mse``: |z - h_prev|^2 / 2 (logit matching).
    tau : float in (0, inf)
        Temperature of ``kl``.
    tau2_factor : bool
        Hinton's tau^2 factor on ``kl`` (default True).

    Rules across fields: G must be classes x classes, PSD, with distinct class means; pi has
    ``classes`` entries; the Gaussian integrals have dimension (1 + generations)(classes - 1)
    <= MAX_GAUSSIAN_DIM.  A learner with zero ridge is allowed; below its separability threshold
    it has no finite minimiser and the solver reports divergence.
    """

    classes: int = 3
    gram: Any = None
    pi: Any = None
    alpha: float = 2.0
    delta: float = 1.0
    lam_t: float = 0.1
    lam_s: float = 0.01
    generations: int = 0
    xi: float = 1.0
    soft: str = "kl"
    tau: float = 1.0
    tau2_factor: bool = True

    def __post_init__(self) -> None:
        problems = field_problems(self, MULTICLASS_CONSTRAINTS)
        if not problems:
            problems.extend(_cross_field_problems(self))
        if problems:
            raise SettingError("MulticlassSetting: " + " ".join(problems))
        if self.gram is not None:
            rows = np.asarray(self.gram, dtype=float)
            object.__setattr__(self, "gram", tuple(tuple(float(v) for v in row) for row in rows))
        if self.pi is not None:
            object.__setattr__(self, "pi", tuple(float(v) for v in np.asarray(self.pi, float)))

    # ------------------------------------------------------------------ views
    @property
    def n_learners(self) -> int:
        """K = 1 + generations."""
        return 1 + self.generations

    @property
    def G(self) -> np.ndarray:
        """The Gram matrix as an array (the simplex when ``gram`` is None)."""
        return simplex_gram(self.classes) if self.gram is None else np.array(self.gram, dtype=float)

    @property
    def p(self) -> np.ndarray:
        """The class probabilities pi as an array (uniform when ``pi`` is None)."""
        return np.full(self.classes, 1.0 / self.classes) if self.pi is None else np.array(self.pi, dtype=float)

    def lams(self) -> np.ndarray:
        """Ridge per learner: (lam_t, lam_s, lam_s, ...)."""
        return np.array([self.lam_t] + [self.lam_s] * self.generations, dtype=float)

    def replace(self, **changes: Any) -> "MulticlassSetting":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["gram"] = [list(r) for r in self.G]
        out["pi"] = list(self.p)
        return out

    def key(self) -> str:
        """A stable 16-hex-digit hash of the fields."""
        payload = json.dumps(self.to_dict(), sort_keys=True, default=repr)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


MULTICLASS_CONSTRAINTS = {
    "classes": Interval(2, MAX_CLASSES, integer=True),
    "gram": _Gram(),
    "pi": _Probabilities(),
    "alpha": Interval(0.0, INF, open_lo=True, open_hi=True),
    "delta": Interval(0.0, INF, open_lo=True, open_hi=True),
    "lam_t": Interval(0.0, INF, open_hi=True),
    "lam_s": Interval(0.0, INF, open_hi=True),
    "generations": Interval(0, 2, integer=True),
    "xi": Interval(0.0, 1.0),
    "soft": Choice(SOFT_LOSSES),
    "tau": Interval(0.0, INF, open_lo=True, open_hi=True),
    "tau2_factor": Flag(),
}


def _cross_field_problems(s: MulticlassSetting) -> list[str]:
    out = []
    C = s.classes
    if s.gram is not None:
        out.extend(gram_problems(np.asarray(s.gram, dtype=float), C))
    if s.pi is not None and len(s.pi) != C:
        out.append(f"'pi' must have classes={C} entries; got {len(s.pi)}.")
    dim = s.n_learners * (C - 1)
    if dim > MAX_GAUSSIAN_DIM:
        out.append(f"classes={C} with generations={s.generations} needs {dim}-dimensional Gaussian integrals; "
                   f"the tensor Gauss-Hermite rule is limited to (1 + generations)(classes - 1) <= {MAX_GAUSSIAN_DIM}: "
                   "use fewer classes or generations.")
    return out
