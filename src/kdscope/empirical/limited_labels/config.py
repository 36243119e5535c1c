"""The limited-label experiment file (``protocol: limited_labels``), mapped onto frozen dataclasses.

A pre-trained teacher (from the teacher store, trained on the whole pool) and
students trained on label budgets of ``n`` labelled images per class::

    name: limited_labels
    protocol: limited_labels
    seeds: [0, 1, 2, 3, 4]
    dataset: fashion_mnist
    budgets: [10, 30, 100, 300, 1000, all]     # labelled images per class
    transfer_size: 20000                        # unlabelled pool images for transfer learners (null: all)
    teacher: {model: {arch: resnet, width: 16, depth: 8}, train: {epochs: 15, ...}, seed: 0}
    student: {arch: cnn, width: 8, depth: 3}
    schedule: {steps: 1500, batch_size: 64, transfer_batch_size: 64, lr: 0.05, ...}
    learners:
      - {name: alone}                                   # xi = 0: cross-entropy only, the reference
      - {name: kd_kl_tau4, xi: 0.9, loss: kl, tau: 4}   # KD on the labelled images
      - {name: transfer_kl_tau4, xi: 0.9, loss: kl, tau: 4, transfer: true}
    quick: {...}                                        # overrides for --quick

Every student of every budget takes ``schedule.steps`` optimiser steps (a
budget-matched schedule): small budgets see their images many times, large ones
fewer, and differences between budgets are not differences of compute.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from kdscope.empirical.config import (
    OPTIMISER_CONSTRAINTS,
    ModelConfig,
    PathName,
    TrainConfig,
    ValidatedConfig,
    load_config,
    model_size_problem,
    parse_config,
)
from kdscope.empirical.data import DATASETS
from kdscope.empirical.losses import SOFT_LOSSES
from kdscope.empirical.registry import RegistryChoice
from kdscope.theory.constraints import Choice, Flag, Interval

_POS_INT = Interval(1, float("inf"), integer=True)
PROTOCOL = "limited_labels"


@dataclass(frozen=True)
class StudentSchedule(ValidatedConfig):
    """Budget-matched optimisation: ``steps`` SGD/Adam steps whatever the budget.

    Each step draws ``min(batch_size, n_labelled)`` labelled images (epochs of seeded
    permutations) and, for a transfer learner, ``transfer_batch_size`` unlabelled ones;
    the learning rate follows a cosine over the steps (or stays constant).
    """

    steps: int = 1000
    batch_size: int = 64
    transfer_batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "cosine"
    CONSTRAINTS: typing.ClassVar[dict] = {
        "steps": _POS_INT,
        "batch_size": Interval(2, float("inf"), integer=True),
        "transfer_batch_size": _POS_INT,
        **OPTIMISER_CONSTRAINTS,
    }


@dataclass(frozen=True)
class LimitedLearner(ValidatedConfig):
    """One student objective: (1 - xi) CE on the labelled batch + xi soft loss.

    The soft loss (registered ``loss`` at temperature ``tau``) is taken on the labelled
    batch, and for ``transfer: true`` also on a batch of unlabelled pool images that only
    the teacher labels.  ``xi = 0`` is the student trained alone (the paired reference).
    """

    name: str
    xi: float = 0.0
    loss: str = "kl"
    tau: float = 1.0
    transfer: bool = False
    CONSTRAINTS: typing.ClassVar[dict] = {
        "name": PathName(),
        "xi": Interval(0.0, 1.0),
        "loss": RegistryChoice(SOFT_LOSSES),
        "tau": Interval(0.0, float("inf"), open_lo=True),
        "transfer": Flag(),
    }

    def _cross_checks(self) -> list[str]:
        if self.transfer and self.xi == 0:
            return [f"learner {self.name!r}: 'transfer' is true but xi=0 ignores the teacher; set xi > 0."]
        return []

    @property
    def kd_data(self) -> str:
        """What the teacher term sees: "none", "labelled" or "labelled+transfer"."""
        if self.xi == 0:
            return "none"
        return "labelled+transfer" if self.transfer else "labelled"


@dataclass(frozen=True)
class LimitedTeacher(ValidatedConfig):
    """The stored teacher: model and training on the whole pool, initialisation seed."""

    model: ModelConfig
    train: TrainConfig
    seed: int = 0
    CONSTRAINTS: typing.ClassVar[dict] = {"seed": Interval(0, float("inf"), integer=True)}

    def _cross_checks(self) -> list[str]:
        problem = model_size_problem(self.model, self.train.batch_size, "teacher.model")
        return [problem] if problem else []


@dataclass(frozen=True)
class TheoryOverlay(ValidatedConfig):
    """The replica prediction put beside a two-class run (``theory:`` block; needs ``classes`` of length 2).

    The two-cluster mixture is fitted to the pool images of the two classes (raw pixels
    reduced to ``d`` principal components, whitened by the within-class covariance if
    ``whiten``; :func:`kdscope.empirical.bridge.fit_mixture`), and the theory is solved at
    the fitted ``delta, rho`` for each listed learner at ``alpha_S = n_S / d``, n_S the
    student's number of labelled images (both classes): the student alone is a ridge
    logistic learner (``lam_s``) on those samples; a distilled learner is fresh-sample
    distillation from a logistic teacher (``lam_t``) trained on the whole two-class pool
    (``alpha_T = n_pool / d``), with the learner's own ``xi``, soft loss and ``tau``, and a
    student that trains the fraction ``eta`` of the coordinates.  ``n_grid`` points per
    curve, log-spaced over the measured budgets.  ``learners``: names of non-transfer
    learners to predict (empty: every learner that maps exactly:
    alone, and KL at a finite tau without a transfer set).
    """

    d: int = 64
    whiten: bool = True
    lam_t: float = 0.1
    lam_s: float = 0.1
    eta: float = 1.0
    n_grid: int = 25
    learners: tuple[str, ...] = ()
    CONSTRAINTS: typing.ClassVar[dict] = {
        "d": Interval(2, 784, integer=True),
        "whiten": Flag(),
        "lam_t": Interval(0.0, float("inf"), open_lo=True),
        "lam_s": Interval(0.0, float("inf"), open_lo=True),
        "eta": Interval(0.0, 1.0, open_lo=True),
        "n_grid": Interval(2, 400, integer=True),
    }


@dataclass(frozen=True)
class LimitedLabelConfig(ValidatedConfig):
    """A limited-label experiment: teacher, student model, budgets, learners, seeds."""

    name: str
    seeds: tuple[int, ...]
    teacher: LimitedTeacher
    student: ModelConfig
    schedule: StudentSchedule
    learners: tuple[LimitedLearner, ...]
    protocol: str = PROTOCOL
    dataset: str = "fashion_mnist"
    budgets: tuple[int | str, ...] = (10, 30, 100, 300, 1000, "all")
    transfer_size: int | None = None
    test_fraction: float = 1.0
    classes: tuple[int, ...] | None = None
    theory: TheoryOverlay | None = None
    description: str = ""
    CONSTRAINTS: typing.ClassVar[dict] = {
        "name": PathName(),
        "protocol": Choice((PROTOCOL,)),
        "dataset": RegistryChoice(DATASETS),
        "transfer_size": Interval(1, float("inf"), integer=True, optional=True),
        "test_fraction": Interval(0.0, 1.0, open_lo=True),
    }

    def _cross_checks(self) -> list[str]:
        out = []
        if not self.seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in self.seeds):
            out.append(f"'seeds' must be a non-empty list of integers >= 0; got {list(self.seeds)!r}.")
        elif len(set(self.seeds)) != len(self.seeds):
            out.append(f"'seeds' must not repeat; got {list(self.seeds)!r}.")
        bad = [b for b in self.budgets
               if not (b == "all" or (isinstance(b, int) and not isinstance(b, bool) and b > 0))]
        if not self.budgets or bad:
            out.append(f"'budgets' must be a non-empty list of labelled images per class (integers >= 1) or 'all'; "
                       f"got {list(self.budgets)!r}.")
        elif len(set(self.budgets)) != len(self.budgets):
            out.append(f"'budgets' must not repeat; got {list(self.budgets)!r}.")
        names = [x.name for x in self.learners]
        if len(set(names)) != len(names):
            out.append(f"'learners' names must be unique; got {names}.")
        if not any(x.xi == 0 for x in self.learners):
            out.append("'learners' must include a student trained alone (xi: 0), the reference of every paired "
                       "difference.")
        problem = model_size_problem(self.student, self.schedule.batch_size + self.schedule.transfer_batch_size,
                                     "student")
        if problem:
            out.append(problem)
        out.extend(self._class_problems())
        return out

    def _class_problems(self) -> list[str]:
        out = []
        if self.classes is not None:
            if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes) or any(
                    not isinstance(c, int) or isinstance(c, bool) or c < 0 for c in self.classes):
                out.append(f"'classes' must list at least two distinct class indices >= 0; "
                           f"got {list(self.classes)!r}.")
        if self.theory is not None:
            if self.classes is None or len(self.classes) != 2:
                out.append(f"'theory' predicts a two-class problem (the binary mixture) but classes="
                           f"{None if self.classes is None else list(self.classes)}; give two classes or drop 'theory'.")
            by_name = {x.name: x for x in self.learners}
            unknown = [n for n in self.theory.learners if n not in by_name]
            if unknown:
                out.append(f"'theory.learners' {unknown} are not learners; learners: {sorted(by_name)}.")
            transfer = [n for n in self.theory.learners if n in by_name and by_name[n].transfer]
            if transfer:
                out.append(f"'theory.learners' {transfer} use a transfer set, which the fresh-sample theory does not "
                           "model (one sample set for hard and soft terms); list only non-transfer learners.")
            inexact = [n for n in self.theory.learners if n in by_name and not _maps_to_theory(by_name[n])]
            if inexact:
                out.append(f"'theory.learners' {inexact} use a soft loss other than KL at a finite tau; only that one "
                           "maps exactly onto the binary model's soft term (two-class softmax = sigmoid of the logit "
                           "difference); list KL learners with finite tau.")
        return out

    @property
    def theory_learners(self) -> tuple[LimitedLearner, ...]:
        """The learners the ``theory`` block predicts (listed ones, or every non-transfer learner)."""
        if self.theory is None:
            return ()
        if self.theory.learners:
            return tuple(x for x in self.learners if x.name in self.theory.learners)
        return tuple(x for x in self.learners if not x.transfer and _maps_to_theory(x))

    @property
    def reference(self) -> str:
        """Name of the student trained alone (the first learner with xi = 0)."""
        return next(x.name for x in self.learners if x.xi == 0)


def _maps_to_theory(learner: LimitedLearner) -> bool:
    """Alone (xi = 0) or KL at a finite tau: the learners with an exact binary-model counterpart."""
    return learner.xi == 0 or (learner.loss == "kl" and learner.tau != float("inf"))


def is_limited_labels(raw: typing.Any) -> bool:
    """True when plain data ``raw`` (a loaded YAML file) declares ``protocol: limited_labels``."""
    return isinstance(raw, dict) and raw.get("protocol") == PROTOCOL


def parse_limited_labels(raw: typing.Any, *, quick: bool = False, source: str = "config") -> LimitedLabelConfig:
    """Validate plain data (with its optional ``quick:`` block) into a :class:`LimitedLabelConfig`."""
    return parse_config(LimitedLabelConfig, raw, quick=quick, source=source, what="a limited-label experiment file")


def load_limited_labels(path, *, quick: bool = False) -> LimitedLabelConfig:
    """Read and validate a limited-label experiment file."""
    return load_config(LimitedLabelConfig, path, quick=quick, what="limited-label experiment file")
