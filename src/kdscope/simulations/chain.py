"""Draw one finite-size instance of a Setting and train its chain of learners.

Protocol (DESIGN.md sections 1 and 4), for one seed:

1. ``mu`` with N(0, 1) entries rescaled to ``|mu|^2 = d`` (:mod:`.data`).
2. Teacher (k = 0): ERM on ``n = round(alpha d)`` samples with its hard loss
   and ridge lam_t (:mod:`.newton`); or, for ``teacher in {'bayes', 'fixed'}``,
   fixed weights with exactly the overlaps ``setting.teacher_overlaps()``.
3. Students' samples: the teacher's (same-sample distillation, the default),
   or ``round(alpha_s d)`` fresh ones when ``alpha_s`` is set (fresh-sample
   distillation), and for a fixed teacher ``round(alpha_s d)`` (or
   ``round(alpha d)`` if ``alpha_s`` is None) samples.
4. Student k >= 1 minimises ``sum_mu [(1 - xi) hard(z; y~) + xi soft(z; t_mu)]
   + lam_s / 2 |w|^2`` on the first ``d_s = round(eta d)`` coordinates (shared
   by the chain; the logit is still normalised by sqrt(d)), with
   ``t_mu = z_{k-1}(x_mu)`` the previous learner's training logits.  The losses
   are ``kdscope.theory.solve.chain_losses(setting)``, the very objects the
   theory uses.  Each student is warm-started from the previous learner.

Draw order from ``np.random.default_rng(seed)``: mu; then the fixed teacher's
direction (fixed teachers) or the teacher's samples; then the fresh samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kdscope.theory import Setting
from kdscope.theory.solve import chain_losses

from .data import Samples, draw_mean, draw_samples, fixed_teacher_weights
from .newton import CONVERGED, Fit, FitOptions, fit


@dataclass(frozen=True)
class Learner:
    """One trained (or given) learner of the chain.

    Attributes
    ----------
    w : (d,) weights (zero off a sparse student's support).  b : bias.
    z : (n,) training logits on the samples it was trained on; for a fixed
        teacher, its logits on the students' samples.
    target : the target its loss saw (labels, or the pair (y~, t)); None for a fixed teacher.
    fit : the :class:`~kdscope.simulations.newton.Fit` (None for a fixed teacher).
    X : (n, p) its training inputs x_mu on its p trained coordinates, a view of the
        samples (the model divides them by sqrt(d) on the fly); None for a fixed teacher.
    """

    w: np.ndarray
    b: float
    z: np.ndarray
    target: object
    fit: Fit | None
    X: np.ndarray | None

    @property
    def status(self) -> str:
        return CONVERGED if self.fit is None else self.fit.status


@dataclass(frozen=True)
class Chain:
    """A trained finite-size instance: the data and every learner.

    Attributes
    ----------
    setting, d, seed : what was drawn.  mu : (d,) cluster mean (|mu|^2 = d).
    d_s : a student's number of trained coordinates, round(eta d).
    teacher_data : the teacher's training samples (the students' for a fixed teacher).
    student_data : the students' training samples (the same object as
        teacher_data for same-sample distillation).
    learners : [teacher, student 1, ...].  losses : the chain's loss objects.
    """

    setting: Setting
    d: int
    seed: int
    mu: np.ndarray
    d_s: int
    teacher_data: Samples
    student_data: Samples
    learners: list
    losses: list

    @property
    def same_samples(self) -> bool:
        return self.student_data is self.teacher_data and not self.setting.fixed_teacher

    @property
    def converged(self) -> bool:
        return all(lr.status == CONVERGED for lr in self.learners)


def sizes(setting: Setting, d: int) -> tuple[int, int, int]:
    """(n_t, n_s, d_s): teacher samples round(alpha d), student samples, student support round(eta d)."""
    s = setting
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"simulate: 'd' must be an integer >= 2; got {d!r}.")
    n_t = int(round(s.alpha * d))
    n_s = int(round((s.alpha_s if s.alpha_s is not None else s.alpha) * d))
    d_s = int(round(s.eta * d)) if s.generations > 0 else int(d)
    for name, v in (("round(alpha d)", n_t), ("round(alpha_s d)", n_s), ("round(eta d)", d_s)):
        if v < 1:
            raise ValueError(f"simulate: {name} = {v} at d={d}; increase 'd' (alpha={s.alpha}, alpha_s={s.alpha_s}, "
                             f"eta={s.eta}).")
    return n_t, n_s, d_s


def _check_trainable(s: Setting) -> None:
    """The hinge loss has no curvature for Newton; its exact (QP) trainer is not written yet."""
    hinge = [name for name, used in (("loss_t", s.loss_t == "hinge" and s.teacher == "erm"),
                                     ("loss_s", s.generations > 0 and s.loss_s == "hinge" and s.xi < 1))
             if used]
    if hinge:
        raise NotImplementedError(f"simulate: {' and '.join(hinge)}='hinge' is not simulated yet (its exact "
                                  "training needs a QP solver); use a smooth hard loss "
                                  "('logistic', 'square', 'linear') or the theory alone.")


def train_chain(setting: Setting, d: int, seed: int, *, options: FitOptions | None = None,
                responses: bool = True) -> Chain:
    """Draw the data of ``setting`` at dimension d with ``default_rng(seed)`` and train every learner.

    ``responses``: factor each learner's Hessian at its solution (for V and V_st);
    False skips that O(n d^2) work per learner.

    Returns
    -------
    Chain
    """
    s = setting
    n_t, n_s, d_s = sizes(s, d)
    _check_trainable(s)
    rng = np.random.default_rng(seed)
    losses = chain_losses(s)
    mu = draw_mean(rng, d, d_s if d_s < d else None)
    scale = 1.0 / math.sqrt(d)

    def draw(n):
        return draw_samples(rng, mu, n, s.delta, s.rho, s.theta)

    def logits(X, w, b):
        return scale * (X @ w) + b

    if s.teacher in ("bayes", "fixed"):
        m0, q0, b0 = s.teacher_overlaps()
        w0 = fixed_teacher_weights(rng, mu, m0, q0)
        data_s = data_t = draw(n_s)
        teacher = Learner(w0, b0, logits(data_s.X, w0, b0), None, None, None)
    else:
        data_t = draw(n_t)
        f0 = fit(losses[0], data_t.y_obs, data_t.X, s.lam_t, d=d, bias=s.bias, options=options, scale=scale,
                 response=responses)
        teacher = Learner(f0.w, f0.b, logits(data_t.X, f0.w, f0.b), data_t.y_obs, f0, data_t.X)
        data_s = draw(n_s) if s.alpha_s is not None else data_t
    learners = [teacher]
    if s.generations > 0:
        X_s = data_s.X[:, :d_s]  # a view: the students' trained coordinates
        same = data_s is data_t or s.teacher in ("bayes", "fixed")
        t_prev = teacher.z if same else logits(data_s.X, teacher.w, teacher.b)
        prev = teacher
        for k in range(1, s.n_learners):
            target = (data_s.y_obs, t_prev)
            warm = prev.fit is None or prev.fit.converged
            fk = fit(losses[k], target, X_s, s.lam_s, d=d, bias=s.bias, options=options, scale=scale,
                     response=responses, w_init=prev.w[:d_s] if warm else None, b_init=prev.b if warm else 0.0)
            w = np.zeros(d)
            w[:d_s] = fk.w
            prev = Learner(w, fk.b, logits(X_s, fk.w, fk.b), target, fk, X_s)
            learners.append(prev)
            t_prev = prev.z
    return Chain(s, int(d), int(seed), mu, d_s, data_t, data_s, learners, losses)
