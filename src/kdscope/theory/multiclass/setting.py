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
from .gram import gram_problems, helmert_basis, simplex_gram

__all__ = ["MulticlassSetting", "MULTICLASS_CONSTRAINTS", "MAX_CLASSES", "MAX_GAUSSIAN_DIM", "SOFT_LOSSES"]

#: Largest number of classes accepted.
MAX_CLASSES = 8
#: Largest dimension K (C - 1) of the Gaussian integrals (tensor Gauss-Hermite rule): K learners, C classes.
MAX_GAUSSIAN_DIM = 6
SOFT_LOSSES = ("kl", "mse")
TEACHER_KINDS = ("erm", "fixed")
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
class _Array:
    """An optional real array of a given number of dimensions (its shape is checked across fields)."""

    ndim: int

    def describe(self) -> str:
        what = "a classes x classes matrix" if self.ndim == 2 else "a vector of classes numbers"
        return f"{what} of finite numbers, or None"

    def check(self, name: str, value: Any) -> str | None:
        if value is None:
            return None
        try:
            a = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return f"'{name}' must be {self.describe()}; got {value!r}."
        if a.ndim != self.ndim or not np.all(np.isfinite(a)):
            return f"'{name}' must be {self.describe()}; got {value!r}."
        return None

    def example_bad(self) -> Any:
        return "not-a-matrix"


def _tuples(a: Any) -> tuple:
    a = np.asarray(a, dtype=float)
    return tuple(float(v) for v in a) if a.ndim == 1 else tuple(tuple(float(v) for v in row) for row in a)


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
    teacher : {'erm', 'fixed'}
        'erm': the teacher is trained (on the students' samples, or on its own alpha d samples when
        ``alpha_s`` is given); 'fixed': a given teacher with full C x C overlaps ``m0`` (M_0[j, c] =
        w_0j . mu_c / d), ``q0`` (Q_00 = W_0 W_0^T / d) and bias ``b0`` (length C, default 0).
    m0, q0 : C x C matrices or None; b0 : length-C vector or None
        The fixed teacher's overlaps (``teacher='fixed'`` only).  Only their parts orthogonal to the
        all-ones vector matter (softmax is shift invariant).  Realisable: the rows of m0 lie in the
        row space of G, and q0 - m0 G^+ m0^T (the part of W_0 orthogonal to the means) is PSD.
    alpha_s : float in (0, inf) or None
        Students train on ``alpha_s d`` fresh samples (the ERM teacher trained on its own alpha d
        samples and then frozen; or a fixed teacher); None: the students use the teacher's samples.
    eta : float in (0, 1]
        Fraction of the input coordinates the students train (sparse student); the teacher is dense.

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
    teacher: str = "erm"
    m0: Any = None
    q0: Any = None
    b0: Any = None
    alpha_s: float | None = None
    eta: float = 1.0

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
        for name in ("m0", "q0", "b0"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _tuples(getattr(self, name)))

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

    @property
    def fixed_teacher(self) -> bool:
        """True when the teacher does not respond to the students' samples (given, or trained on others)."""
        return self.teacher != "erm" or self.alpha_s is not None

    @property
    def alpha_chain(self) -> float:
        """Samples per dimension of the samples the students train on (alpha_s, else alpha)."""
        return self.alpha if self.alpha_s is None else self.alpha_s

    def teacher_overlaps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(m0, q0, b0) of a given teacher (``teacher='fixed'``) as C x C, C x C, C arrays."""
        if self.teacher != "fixed":
            raise ValueError("teacher_overlaps() is defined for teacher='fixed' only")
        b0 = np.zeros(self.classes) if self.b0 is None else np.array(self.b0, dtype=float)
        return np.array(self.m0, dtype=float), np.array(self.q0, dtype=float), b0

    def lams(self) -> np.ndarray:
        """Ridge per learner: (lam_t, lam_s, lam_s, ...)."""
        return np.array([self.lam_t] + [self.lam_s] * self.generations, dtype=float)

    def replace(self, **changes: Any) -> "MulticlassSetting":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["gram"] = [list(r) for r in self.G]
        out["pi"] = list(self.p)
        for name in ("m0", "q0", "b0"):
            v = getattr(self, name)
            out[name] = None if v is None else np.asarray(v).tolist()
        return out

    def key(self) -> str:
        """A stable 16-hex-digit hash of the fields (the variant fields only when not at their defaults,
        so that the keys of plain same-sample settings do not change)."""
        d = self.to_dict()
        for name, default in _VARIANT_DEFAULTS.items():
            if d[name] == default:
                del d[name]
        payload = json.dumps(d, sort_keys=True, default=repr)
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
    "teacher": Choice(TEACHER_KINDS),
    "m0": _Array(2),
    "q0": _Array(2),
    "b0": _Array(1),
    "alpha_s": Interval(0.0, INF, open_lo=True, open_hi=True, optional=True),
    "eta": Interval(0.0, 1.0, open_lo=True),
}
_VARIANT_DEFAULTS = {"teacher": "erm", "m0": None, "q0": None, "b0": None, "alpha_s": None, "eta": 1.0}


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
    out.extend(_variant_problems(s))
    return out


def _variant_problems(s: MulticlassSetting) -> list[str]:
    """The fixed / fresh-sample teacher and sparse student fields against each other."""
    out = []
    C = s.classes
    if s.teacher == "fixed":
        if s.m0 is None or s.q0 is None:
            return [f"teacher='fixed' needs its overlaps m0 and q0 (got m0={s.m0}, q0={s.q0}); give both, or use "
                    "teacher='erm'."]
        m0, q0, b0 = s.teacher_overlaps()
        if m0.shape != (C, C) or q0.shape != (C, C) or b0.shape != (C,):
            return [f"'m0' and 'q0' must be {C} x {C} and 'b0' of length {C} (classes={C}); got shapes {m0.shape}, "
                    f"{q0.shape}, {b0.shape}."]
        U = helmert_basis(C)
        M, Q = U.T @ m0, U.T @ q0 @ U
        scale = max(1.0, float(np.abs(Q).max()), float(np.abs(M).max()) ** 2)
        if not np.allclose(q0, q0.T, atol=1e-12 * scale, rtol=0):
            out.append("'q0' must be symmetric (Q_00 = W_0 W_0^T / d).")
        elif np.abs(M @ (np.eye(C) - np.linalg.pinv(s.G) @ s.G)).max() > 1e-9 * np.sqrt(scale):
            out.append("'m0' must have its rows in the row space of 'gram' (M_0 = W_0 mu^T / d).")
        else:
            rest = Q - M @ np.linalg.pinv(s.G) @ M.T
            lo = float(np.linalg.eigvalsh(0.5 * (rest + rest.T)).min())
            if lo < -1e-10 * scale:
                out.append(f"'q0' - m0 G^+ m0^T must be positive semi-definite (the part of the teacher's weights "
                           f"orthogonal to the class means); its smallest eigenvalue is {lo:.3g}: raise q0.")
    elif any(v is not None for v in (s.m0, s.q0, s.b0)):
        out.append(f"m0, q0, b0 describe a fixed teacher but teacher={s.teacher!r}; set teacher='fixed' or leave them "
                   "None.")
    if s.generations == 0:
        for name, bad in (("teacher='fixed'", s.teacher == "fixed"), (f"alpha_s={s.alpha_s}", s.alpha_s is not None),
                          (f"eta={s.eta}", s.eta < 1)):
            if bad:
                out.append(f"{name} concerns the students but generations=0; set generations >= 1.")
    return out
