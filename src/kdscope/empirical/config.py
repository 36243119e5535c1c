"""Experiment configuration: YAML files mapped 1:1 onto frozen dataclasses.

An experiment file (``experiments/NAME.yaml``) is plain data read with
``yaml.safe_load``.  Every mapping becomes one dataclass below, key by key: an
unknown key, a missing required key or a value outside its field's constraint
raises :class:`ConfigError` naming the field by its dotted path
(``students[2].tau``).  Names (``arch: resnet``, ``loss: kl``, ``aggregator:
uncertainty``, ``dataset: digits``, ``kind: hint``) resolve through the explicit
registries of the modules that define them.  ``tau`` accepts ``.inf`` or ``inf``.

A top-level ``quick:`` block holds overrides merged recursively onto the file
(mappings merge, everything else replaces) by ``load_experiment(path, quick=True)``;
both the full and the quick configuration are validated on every load.

A ``grid`` maps dotted ``data.*`` fields to lists of values: each combination is a
*condition* with its own teacher and students (e.g. label noise 0/20/40%).
"""

from __future__ import annotations

import copy
import functools
import re
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kdscope.empirical.aggregators import AGGREGATORS
from kdscope.empirical.data import DATASETS, NOISE_KINDS
from kdscope.empirical.losses import FEATURE_LOSSES, SOFT_LOSSES
from kdscope.empirical.models import ARCHITECTURES, build_model, size_problem
from kdscope.empirical.registry import ConfigError, RegistryChoice
from kdscope.theory.constraints import Choice, Flag, Interval

_FRACTION = Interval(0.0, 1.0, open_lo=True)
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=+-]*")


@dataclass(frozen=True)
class PathName:
    """A name that becomes one folder or file name: letters, digits, ``_ . = + -``, no ``..``, no separator."""

    def describe(self) -> str:
        return ("a name usable as one folder name (letters, digits and _ . = + -, starting with a letter or digit, "
                "no '..', at most 100 characters)")

    def check(self, name: str, value: Any) -> str | None:
        if isinstance(value, str) and len(value) <= 100 and _NAME_PATTERN.fullmatch(value) and ".." not in value:
            return None
        return f"'{name}' must be {self.describe()}; got {value!r}."

    def example_bad(self) -> Any:
        return "../../x"
_POS_INT = Interval(1, float("inf"), integer=True)


def _validate(obj: Any, prefix: str = "") -> list[str]:
    """Check every field of a config dataclass against its class's ``CONSTRAINTS`` table."""
    return [
        msg
        for name, constraint in type(obj).CONSTRAINTS.items()
        if (msg := constraint.check(prefix + name, getattr(obj, name))) is not None
    ]


class ValidatedConfig:
    """Base of every config dataclass: validated once, at construction, against a table of constraints.

    A subclass is a frozen dataclass that sets the class attribute ``CONSTRAINTS``, a
    mapping from field name to a constraint of :mod:`kdscope.theory.constraints`
    (``Interval``, ``Choice``, ``Flag``) or of the registries (``RegistryChoice``,
    :class:`PathName`): anything with ``check(name, value) -> message | None``.  Rules
    that involve several fields go in ``_cross_checks`` (a list of messages, each
    naming every field it involves).  ``__post_init__`` collects all the messages and
    raises one :class:`~kdscope.empirical.registry.ConfigError` listing them, prefixed
    with the class name, so a user sees every problem of a file at once.

    Used by the experiment configs here, the limited-label configs
    (:mod:`kdscope.empirical.limited_labels.config`) and any later protocol's config.
    """

    CONSTRAINTS: typing.ClassVar[dict] = {}

    def __post_init__(self) -> None:
        problems = _validate(self) + self._cross_checks()
        if problems:
            raise ConfigError(f"{type(self).__name__}: " + " ".join(problems))

    def _cross_checks(self) -> list[str]:
        return []


@dataclass(frozen=True)
class DataConfig(ValidatedConfig):
    """Data set and its splits; see :func:`kdscope.empirical.data.make_splits`.

    ``seed`` None draws subsets and label noise with the run seed; an integer fixes them.
    """

    dataset: str = "fashion_mnist"
    train_fraction: float = 1.0
    val_fraction: float = 0.1
    test_fraction: float = 1.0
    theta: float = 0.0
    noise: str = "symmetric"
    seed: int | None = None
    CONSTRAINTS: typing.ClassVar[dict] = {
        "dataset": RegistryChoice(DATASETS),
        "train_fraction": _FRACTION,
        "val_fraction": Interval(0.0, 1.0, open_hi=True),
        "test_fraction": _FRACTION,
        "theta": Interval(0.0, 1.0),
        "noise": Choice(NOISE_KINDS),
        "seed": Interval(0, float("inf"), integer=True, optional=True),
    }


@dataclass(frozen=True)
class ModelConfig(ValidatedConfig):
    """An architecture from :data:`kdscope.empirical.models.ARCHITECTURES` with its width and depth."""

    arch: str
    width: int
    depth: int
    CONSTRAINTS: typing.ClassVar[dict] = {"arch": RegistryChoice(ARCHITECTURES), "width": _POS_INT, "depth": _POS_INT}

    def _cross_checks(self) -> list[str]:
        # Size guard from the numbers alone, before anything builds the model (reference batch of 128).
        problem = model_size_problem(self, 128, label=None)
        return [problem] if problem else []


def model_size_problem(m: ModelConfig, batch_size: int, label: str | None = "model") -> str | None:
    """A sentence if model ``m`` is too large to build for batches of ``batch_size`` (see models.size_problem).

    ``label`` (the field's dotted path) starts the sentence; None leaves it out.
    """
    if not (isinstance(m.width, int) and isinstance(m.depth, int) and m.width > 0 and m.depth > 0):
        return None  # reported by the field constraints
    problem = size_problem(m.arch, m.width, m.depth, batch_size=batch_size)
    if problem is None:
        return None
    return f"'{label}': {problem}" if label else problem


# The optimiser's fields, shared by every training schedule (epochs here, steps in limited_labels).
OPTIMISER_CONSTRAINTS = {
    "optimizer": Choice(("sgd", "adam")),
    "lr": Interval(0.0, float("inf"), open_lo=True, open_hi=True),
    "momentum": Interval(0.0, 1.0, open_hi=True),
    "weight_decay": Interval(0.0, float("inf"), open_hi=True),
    "scheduler": Choice(("cosine", "constant")),
}


@dataclass(frozen=True)
class TrainConfig(ValidatedConfig):
    """Optimisation: SGD with momentum (no Nesterov) or Adam; learning rate cosine-annealed per epoch or constant."""

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "cosine"
    CONSTRAINTS: typing.ClassVar[dict] = {
        "epochs": _POS_INT,
        "batch_size": _POS_INT,
        **OPTIMISER_CONSTRAINTS,
    }


@dataclass(frozen=True)
class FeaturePathConfig(ValidatedConfig):
    """One feature path: registered ``kind`` (hint, attention) between two module paths, with its weight."""

    kind: str
    student: str
    teacher: str
    weight: float = 1.0
    CONSTRAINTS: typing.ClassVar[dict] = {
        "kind": RegistryChoice(FEATURE_LOSSES),
        "weight": Interval(0.0, float("inf"), open_lo=True, open_hi=True),
    }


@dataclass(frozen=True)
class TeacherConfig(ValidatedConfig):
    """The generation-0 learner, trained on hard labels; ``train`` None uses the experiment's ``train``.

    ``pretrained: true`` takes the teacher from the teacher store
    (:mod:`kdscope.empirical.teacher_store`): trained once on the whole pool of the data
    set (with the condition's label noise rate, drawn with ``seed``), then reused by every
    seed, condition and experiment naming the same model, training and noise; students
    see its normalisation.  False (default) trains a teacher per seed on the run's split.
    """

    model: str
    train: TrainConfig | None = None
    pretrained: bool = False
    seed: int = 0
    CONSTRAINTS: typing.ClassVar[dict] = {"pretrained": Flag(), "seed": Interval(0, float("inf"), integer=True)}


@dataclass(frozen=True)
class StudentConfig(ValidatedConfig):
    """A learner trained from a frozen ``teacher`` ("teacher" or an earlier student: chains).

    Objective paths: ce with weight 1 - xi, kd (registered ``loss`` at temperature ``tau``)
    with weight xi, plus ``features``; combined by the registered ``aggregator``.
    """

    name: str
    model: str
    teacher: str = "teacher"
    xi: float = 0.0
    loss: str = "kl"
    tau: float = 1.0
    features: tuple[FeaturePathConfig, ...] = ()
    aggregator: str = "fixed"
    per_layer: bool = True
    gradnorm_asymmetry: float = 1.5
    gradnorm_lr: float = 0.025
    train: TrainConfig | None = None
    CONSTRAINTS: typing.ClassVar[dict] = {
        "name": PathName(),
        "xi": Interval(0.0, 1.0),
        "loss": RegistryChoice(SOFT_LOSSES),
        "tau": Interval(0.0, float("inf"), open_lo=True),
        "aggregator": RegistryChoice(AGGREGATORS),
        "per_layer": Flag(),
        "gradnorm_asymmetry": Interval(0.0, float("inf"), open_hi=True),
        "gradnorm_lr": Interval(0.0, float("inf"), open_lo=True, open_hi=True),
    }

    @property
    def uses_teacher(self) -> bool:
        return self.xi > 0 or bool(self.features)


@dataclass(frozen=True)
class ExperimentConfig(ValidatedConfig):
    """A whole experiment: data, named models, a teacher, students, seeds, an optional grid."""

    name: str
    seeds: tuple[int, ...]
    data: DataConfig
    models: dict[str, ModelConfig]
    teacher: TeacherConfig
    train: TrainConfig
    students: tuple[StudentConfig, ...]
    grid: dict[str, tuple] = field(default_factory=dict)
    figure: str | None = None
    description: str = ""
    CONSTRAINTS: typing.ClassVar[dict] = {"name": PathName(),
                                          "figure": Choice((None, "accuracy_vs_tau", "path_weights"))}

    def _cross_checks(self) -> list[str]:
        out = []
        if not self.seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in self.seeds):
            out.append(f"'seeds' must be a non-empty list of integers >= 0; got {list(self.seeds)!r}.")
        elif len(set(self.seeds)) != len(self.seeds):
            out.append(f"'seeds' must not repeat; got {list(self.seeds)!r}.")
        known = sorted(self.models)
        if self.teacher.model not in self.models:
            out.append(f"'teacher.model' must name an entry of 'models' {known}; got {self.teacher.model!r}.")
        batches = [self.train.batch_size] + [x.train.batch_size for x in (self.teacher, *self.students) if x.train]
        for key, m in self.models.items():
            if (problem := model_size_problem(m, max(batches), f"models.{key}")) is not None:
                out.append(problem)
                continue
            if isinstance(_module_names(m), str):
                out.append(f"'models.{key}.depth' {_module_names(m)}")  # "must be ...; got ..."
        seen = ["teacher"]
        for i, s in enumerate(self.students):
            if s.model not in self.models:
                out.append(f"'students[{i}].model' must name an entry of 'models' {known}; got {s.model!r}.")
            if s.name in seen:
                out.append(f"'students[{i}].name' must be unique and not 'teacher'; got {s.name!r}.")
            if s.uses_teacher and s.teacher not in seen:
                out.append(f"'students[{i}].teacher' must be 'teacher' or an earlier student {seen[1:]}; "
                           f"got {s.teacher!r}.")
            seen.append(s.name)
            teacher_model = self.teacher.model if s.teacher == "teacher" else next(
                (x.model for x in self.students if x.name == s.teacher), None)
            for j, f in enumerate(s.features):
                for side, mname in (("student", s.model), ("teacher", teacher_model)):
                    names = _module_names(self.models[mname]) if mname in self.models else ()
                    if not isinstance(names, str) and names and getattr(f, side) not in names:
                        out.append(f"'students[{i}].features[{j}].{side}' must be a module path of model "
                                   f"{mname!r}, e.g. {sorted(n for n in names if n.count('.') < 1)}; "
                                   f"got {getattr(f, side)!r}.")
        for key, values in self.grid.items():
            fname = key.removeprefix("data.")
            if not key.startswith("data.") or fname not in DataConfig.CONSTRAINTS:
                allowed = ["data." + f for f in DataConfig.CONSTRAINTS]
                out.append(f"'grid' keys must be data fields {allowed}; got {key!r}.")
                continue
            if not values:
                out.append(f"'grid.{key}' must be a non-empty list.")
            out += [m for v in values if (m := DataConfig.CONSTRAINTS[fname].check(f"grid.{key}", v))]
        return out

    def conditions(self) -> list[tuple[str, DataConfig]]:
        """(label, data config) for every combination of the grid; label "base" without a grid."""
        combos: list[tuple[str, dict]] = [("", {})]
        for key, values in self.grid.items():
            fname = key.removeprefix("data.")
            combos = [(f"{lab}_{fname}={v}".lstrip("_"), {**kw, fname: v}) for lab, kw in combos for v in values]
        return [(lab or "base", dataclasses.replace(self.data, **kw)) for lab, kw in combos]

    def train_of(self, learner: TeacherConfig | StudentConfig) -> TrainConfig:
        return learner.train if learner.train is not None else self.train


@functools.lru_cache(maxsize=64)
def _module_names(m: ModelConfig) -> frozenset[str] | str:
    """Dotted module names of a model built from ``m``; an error sentence if it cannot be built."""
    try:
        return frozenset(n for n, _ in build_model(m.arch, m.width, m.depth, 10, 1).named_modules() if n)
    except ValueError as exc:
        return str(exc).split("'depth' ", 1)[-1]


# ----------------------------------------------------------------------------- dict <-> dataclass
def _convert(tp: Any, value: Any, path: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, path)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, path)
    if origin is tuple or tp is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"'{path}' must be a list; got {value!r}.")
        item = args[0] if args else Any
        return tuple(_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"'{path}' must be a mapping; got {value!r}.")
        return {str(k): _convert(args[1], v, f"{path}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, str) and value.strip().lower() in ("inf", ".inf", "+inf"):
        return float("inf")
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (str,) and not isinstance(value, str):
        raise ConfigError(f"'{path}' must be a string; got {value!r}.")
    return value


def from_dict(cls: type, data: Any, path: str = "") -> Any:
    """Build config dataclass ``cls`` from a mapping, naming the field of any problem by its path."""
    label = path or cls.__name__
    if not isinstance(data, dict):
        raise ConfigError(f"'{label}' must be a mapping of fields; got {data!r}.")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    prefix = f"{path}." if path else ""
    unknown = [k for k in data if k not in fields]
    if unknown:
        names = [prefix + str(k) for k in unknown]
        raise ConfigError(f"unknown key(s) {names}; known fields of '{label}': {sorted(fields)}.")
    missing = [n for n, f in fields.items() if n not in data and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"missing required key(s) {[prefix + m for m in missing]} in '{label}'.")
    kwargs = {k: _convert(hints[k], v, prefix + k) for k, v in data.items()}
    values = {n: kwargs.get(n, f.default) for n, f in fields.items()}
    problems = [m for n, c in cls.CONSTRAINTS.items() if (m := c.check(prefix + n, values[n])) is not None]
    if problems:
        raise ConfigError(" ".join(problems))
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        if not path:
            raise
        raise ConfigError(f"'{path}': {exc}") from None


def to_dict(cfg: Any) -> dict:
    """Plain-data form of a config (tuples as lists), suitable for ``yaml.safe_dump``."""

    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return plain(dataclasses.asdict(cfg))


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def parse_config(cls, raw: Any, *, quick: bool = False, source: str = "config", what: str = "an experiment file"):
    """Validate plain data ``raw`` into the frozen dataclass ``cls``, applying its ``quick:`` block if asked.

    Both the full and the quick variant are validated, so an error in either is reported at once.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {what} must be a mapping; got {type(raw).__name__}.")
    raw = dict(raw)
    quick_block = raw.pop("quick", None) or {}
    if not isinstance(quick_block, dict):
        raise ConfigError(f"{source}: 'quick' must be a mapping of overrides; got {quick_block!r}.")
    try:
        full = from_dict(cls, raw)
        fast = from_dict(cls, _merge(raw, quick_block))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return fast if quick else full


def load_config(cls, path: str | Path, *, quick: bool = False, what: str = "experiment file"):
    """Read a YAML file with a safe loader and validate it into ``cls`` (see :func:`parse_config`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {str(path)!r} does not exist.")
    with open(path) as fh:
        raw = yaml.safe_load(fh)
    return parse_config(cls, raw, quick=quick, source=path.name, what=f"a {what}")


def parse_experiment(raw: Any, *, quick: bool = False, source: str = "config") -> ExperimentConfig:
    """Validate the plain-data experiment ``raw`` (with its optional ``quick:`` block)."""
    return parse_config(ExperimentConfig, raw, quick=quick, source=source, what="an experiment file")


def load_experiment(path: str | Path, *, quick: bool = False) -> ExperimentConfig:
    """Read and validate ``experiments/NAME.yaml``; ``quick=True`` applies its ``quick:`` block."""
    return load_config(ExperimentConfig, path, quick=quick, what="experiment file")
