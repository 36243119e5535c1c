"""The one configuration object of kdscope: a distillation problem.

A :class:`Setting` fixes the data model (two-cluster Gaussian mixture), the chain
of learners (teacher k = 0, students k = 1 .. generations) and their losses, in
the notation of DESIGN.md.  Theory (``kdscope.theory.solve``) and simulations
(``kdscope.simulations.simulate``) both take a Setting and return records with
the same column names, so any theory point can be checked against a simulation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Iterator

from .constraints import Choice, Flag, Interval, SettingError, field_problems

HARD_LOSSES = ("logistic", "square", "hinge", "linear")
SOFT_LOSSES = ("kl", "mse", "pseudo")
TEACHER_KINDS = ("erm", "bayes", "fixed")
INF = math.inf
#: Temperatures outside [TAU_MIN, TAU_MAX] overflow float64 (tau^2, z / tau) or lose the KL term to rounding
#: (at tau = 1e6 it equals logit matching (z - t)^2 / 8 to rounding already).
TAU_MIN, TAU_MAX = 1e-4, 1e6
#: Longest chain: K = 1 + generations learners need a K-dimensional quadrature grid (order^K nodes; already
#: 10^5 nodes at K = 5, and the memory bound of ``quadrature.MAX_NODES`` leaves fewer than 8 nodes beyond K = 7).
MAX_GENERATIONS = 4


@dataclass(frozen=True)
class Setting:
    """A teacher -> student(s) distillation problem on the Gaussian mixture.

    Data: ``x = y mu / sqrt(d) + sqrt(delta) z`` with ``P(y = +1) = rho``; the
    observed training label is flipped with probability ``theta``.  Learner k
    has logit ``z_k = w_k . x / sqrt(d) + b_k`` and minimises, on the same
    ``n = alpha d`` samples,
    ``sum_mu loss_k(z_k(x_mu); y~_mu, z_{k-1}(x_mu)) + lam_k / 2 |w_k|^2`` with
    ``loss_k = (1 - xi) hard + xi soft`` for students (k >= 1) and the hard loss
    alone for the teacher.

    Parameters
    ----------
    alpha : float in (0, inf)
        Samples per dimension, n / d (the teacher's, and the students' unless
        ``alpha_s`` is given).
    delta : float in (0, inf)
        Noise variance of each input coordinate.
    rho : float in (0, 1)
        Probability of the label y = +1 (1/2 is balanced).
    theta : float in [0, 0.5)
        Probability that a training label is flipped (test errors use clean y).
    eta : float in (0, 1]
        Fraction of input coordinates a student trains (sparse student).
    lam_t, lam_s : float in [0, inf)
        Ridge strength of the teacher and of every student.
    xi : float in [0, 1]
        Weight of the soft (teacher) term in a student's loss; 0 is ordinary
        training, 1 pure distillation.
    tau : float in [1e-4, 1e6]
        Temperature of the ``kl`` soft loss (outside this range float64
        overflows or the soft term is lost to rounding).
    tau2_factor : bool
        Multiply ``kl`` by tau^2 (Hinton's convention, default). False is the
        reference paper's Appendix B convention.
    loss_t, loss_s : {'logistic', 'square', 'hinge', 'linear'}
        Hard loss of the teacher and of the students.
    soft : {'kl', 'mse', 'pseudo'}
        Soft loss of the students.
    smooth_t, smooth_s : float in [0, 1)
        Label smoothing epsilon of the teacher's / students' logistic loss
        (target (1 - epsilon) y01 + epsilon / 2).
    generations : int in [0, 4]
        Number of students in the chain (0: the teacher alone; 1: one student;
        2: the student's student ...); the quadrature of a chain of K learners
        is K-dimensional, hence the cap.
    teacher : {'erm', 'bayes', 'fixed'}
        ERM teacher on the same samples; the Bayes-optimal proxy
        (m0 = 1, q0 = 1 + delta / alpha); or a fixed teacher given by
        ``m0, q0, b0``.
    m0, q0, b0 : float or None
        Overlaps of a fixed teacher (``teacher='fixed'`` only); q0 >= m0^2.
    alpha_s : float in (0, inf) or None
        If given, students train on ``alpha_s d`` fresh samples (fresh-sample
        distillation; with ``teacher='erm'`` the teacher is first trained on its
        own alpha d samples and then frozen).
    bias : bool
        Train an unregularised bias for every learner (default True).
    """

    alpha: float = 2.0
    delta: float = 1.0
    rho: float = 0.5
    theta: float = 0.0
    eta: float = 1.0
    lam_t: float = 0.01
    lam_s: float = 0.0
    xi: float = 1.0
    tau: float = 1.0
    tau2_factor: bool = True
    loss_t: str = "logistic"
    loss_s: str = "logistic"
    soft: str = "kl"
    smooth_t: float = 0.0
    smooth_s: float = 0.0
    generations: int = 0
    teacher: str = "erm"
    m0: float | None = None
    q0: float | None = None
    b0: float | None = None
    alpha_s: float | None = None
    bias: bool = True

    def __post_init__(self) -> None:
        problems = field_problems(self, CONSTRAINTS)
        if not problems:
            problems.extend(_cross_field_problems(self))
        if problems:
            raise SettingError("Setting: " + " ".join(problems))

    # ------------------------------------------------------------------ views
    @property
    def n_learners(self) -> int:
        """K = 1 + generations: the teacher and its students."""
        return 1 + self.generations

    @property
    def fixed_teacher(self) -> bool:
        """True when the teacher does not respond to the students' samples."""
        return self.teacher != "erm" or self.alpha_s is not None

    def teacher_overlaps(self) -> tuple[float, float, float]:
        """(m0, q0, b0) of a fixed teacher of kind 'bayes' or 'fixed'.

        'bayes': w0 = mu + sqrt(delta / alpha) g, so m0 = 1, q0 = 1 + delta/alpha
        and the bias b0 = (delta q0 / 2) log(rho / (1 - rho)) that is optimal for
        a field of mean y and variance delta q0 (DESIGN.md section 1, kind b).
        """
        if self.teacher == "bayes":
            q0 = 1.0 + self.delta / self.alpha
            b0 = 0.5 * self.delta * q0 * math.log(self.rho / (1.0 - self.rho)) if self.bias else 0.0
            return 1.0, q0, b0
        if self.teacher == "fixed":
            return float(self.m0), float(self.q0), float(self.b0 or 0.0)
        raise ValueError("teacher_overlaps() is defined for teacher in {'bayes', 'fixed'} only")

    def replace(self, **changes: Any) -> "Setting":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def key(self) -> str:
        """A stable 16-hex-digit hash of the fields (the result-store key)."""
        payload = json.dumps(self.to_dict(), sort_keys=True, default=repr)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self.to_dict().items())


CONSTRAINTS = {
    "alpha": Interval(0.0, INF, open_lo=True, open_hi=True),
    "delta": Interval(0.0, INF, open_lo=True, open_hi=True),
    "rho": Interval(0.0, 1.0, open_lo=True, open_hi=True),
    "theta": Interval(0.0, 0.5, open_hi=True),
    "eta": Interval(0.0, 1.0, open_lo=True),
    "lam_t": Interval(0.0, INF, open_hi=True),
    "lam_s": Interval(0.0, INF, open_hi=True),
    "xi": Interval(0.0, 1.0),
    "tau": Interval(TAU_MIN, TAU_MAX),
    "tau2_factor": Flag(),
    "loss_t": Choice(HARD_LOSSES),
    "loss_s": Choice(HARD_LOSSES),
    "soft": Choice(SOFT_LOSSES),
    "smooth_t": Interval(0.0, 1.0, open_hi=True),
    "smooth_s": Interval(0.0, 1.0, open_hi=True),
    "generations": Interval(0, MAX_GENERATIONS, integer=True),
    "teacher": Choice(TEACHER_KINDS),
    "m0": Interval(-INF, INF, open_lo=True, open_hi=True, optional=True),
    "q0": Interval(0.0, INF, open_lo=True, open_hi=True, optional=True),
    "b0": Interval(-INF, INF, open_lo=True, open_hi=True, optional=True),
    "alpha_s": Interval(0.0, INF, open_lo=True, open_hi=True, optional=True),
    "bias": Flag(),
}


def _cross_field_problems(s: Setting) -> list[str]:
    out = []
    if s.smooth_t > 0 and s.loss_t != "logistic":
        out.append(f"smooth_t={s.smooth_t} is label smoothing of a cross-entropy, but loss_t={s.loss_t!r}; "
                   "use loss_t='logistic' or smooth_t=0.")
    if s.smooth_s > 0 and s.loss_s != "logistic":
        out.append(f"smooth_s={s.smooth_s} is label smoothing of a cross-entropy, but loss_s={s.loss_s!r}; "
                   "use loss_s='logistic' or smooth_s=0.")
    if s.teacher == "fixed":
        if s.m0 is None or s.q0 is None:
            out.append(f"teacher='fixed' needs its overlaps m0 and q0 (got m0={s.m0}, q0={s.q0}); "
                       "give both, or use teacher='erm' or 'bayes'.")
        elif s.q0 < s.m0 ** 2:
            out.append(f"q0={s.q0} must be at least m0^2={s.m0 ** 2:g} (q0 = |w0|^2/d >= (w0.mu/d)^2 since |mu|^2/d = 1).")
    elif any(v is not None for v in (s.m0, s.q0, s.b0)):
        out.append(f"m0, q0, b0 describe a fixed teacher but teacher={s.teacher!r}; set teacher='fixed' or leave them None.")
    if s.teacher != "erm" and s.generations == 0:
        out.append(f"teacher={s.teacher!r} is a given (non-trained) teacher, which only makes sense with students; "
                   "set generations >= 1.")
    if s.alpha_s is not None and s.generations == 0:
        out.append(f"alpha_s={s.alpha_s} sets the students' fresh samples but generations=0; set generations >= 1.")
    if s.loss_s == "hinge" and 0 < s.xi < 1:
        out.append(f"loss_s='hinge' with 0 < xi={s.xi} < 1 mixes a non-smooth hard loss with a soft one, whose prox is "
                   "not implemented; use xi in {0, 1} or another loss_s.")
    if s.loss_t == "hinge" and s.generations >= 1:
        out.append(f"loss_t='hinge' with generations={s.generations}: the hinge force is integrated exactly only for the "
                   "last learner of the chain, so a hinge teacher cannot feed students; use generations=0 or another loss_t.")
    student_hinge = s.loss_s == "hinge" and (s.xi < 1 or s.soft == "pseudo")
    if student_hinge and s.generations >= 2:
        out.append(f"loss_s='hinge' (with xi={s.xi}, soft={s.soft!r}) and generations={s.generations}: a hinge student is "
                   "supported only as the last learner; use generations=1 or another loss_s.")
    if s.eta < 1 and s.generations == 0:
        out.append(f"eta={s.eta} makes the students sparse but generations=0 (the teacher is always dense); "
                   "set generations >= 1 or eta=1.")
    return out
