"""The bridge experiment's configuration: one frozen dataclass, one YAML file.

``experiments/bridge*.yaml`` maps key by key onto :class:`BridgeConfig` (read
with ``yaml.safe_load``; an unknown key or a value out of range raises
``ConfigError`` naming the field).  A top-level ``quick:`` mapping holds
overrides applied by ``load_bridge(path, quick=True)``.  The learners' fields
(eta, lam_t, lam_s, xi, tau, losses) are those of ``kdscope.Setting`` and are
checked against its own constraint table; delta and rho are not configured:
they are fitted to the data.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kdscope.empirical.config import from_dict, load_config, parse_config, to_dict
from kdscope.empirical.registry import ConfigError
from kdscope.theory import Setting
from kdscope.theory.constraints import Choice, Flag, Interval
from kdscope.theory.setting import CONSTRAINTS as SETTING_CONSTRAINTS

from .features import FEATURE_KINDS

_POS_INT = Interval(1, float("inf"), integer=True)
SETTING_FIELDS = ("eta", "lam_t", "lam_s", "xi", "tau", "tau2_factor", "loss_t", "loss_s", "soft")


@dataclass(frozen=True)
class BridgeConfig:
    """A linear-probe distillation experiment on real features, compared with the replica theory.

    Data: ``dataset`` ('fashion_mnist' or 'digits'), two ``classes`` (y = +1 for the
    first), ``features`` ('pixels' or 'cnn' with ``layer`` of a CNN of ``cnn_width``,
    ``cnn_depth`` trained ``cnn_epochs`` epochs), a ``fit_fraction`` of the pool kept
    to fit the mixture, an optional class fraction ``rho`` (subsampling; None keeps
    the data's own).  Mixture fit: ``d`` principal components, ``whiten``,
    ``rotate`` (see ``kdscope.empirical.bridge.mixture``).  Probe: ``alphas`` (n = alpha d
    training samples drawn from the pool), ``seeds`` subsamples per alpha,
    ``n_theory`` points of the theory curve.  Learners: the Setting fields
    ``eta, lam_t, lam_s, xi, tau, tau2_factor, loss_t, loss_s, soft``.
    """

    name: str = "bridge"
    dataset: str = "fashion_mnist"
    classes: tuple[int, ...] = (0, 6)
    features: str = "pixels"
    layer: str = "pool"
    cnn_width: int = 16
    cnn_depth: int = 3
    cnn_epochs: int = 3
    fit_fraction: float = 0.5
    rho: float | None = None
    split_seed: int = 0
    d: int = 64
    whiten: bool = True
    rotate: bool = True
    alphas: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
    seeds: int = 10
    n_theory: int = 40
    eta: float = 0.5
    lam_t: float = 0.1
    lam_s: float = 0.0
    xi: float = 1.0
    tau: float = 1.0
    tau2_factor: bool = True
    loss_t: str = "logistic"
    loss_s: str = "logistic"
    soft: str = "kl"
    description: str = ""

    CONSTRAINTS: typing.ClassVar[dict] = {
        "dataset": Choice(("fashion_mnist", "digits")),
        "features": Choice(FEATURE_KINDS),
        "cnn_width": _POS_INT,
        "cnn_depth": _POS_INT,
        "cnn_epochs": _POS_INT,
        "fit_fraction": Interval(0.0, 1.0, open_lo=True, open_hi=True),
        "rho": Interval(0.0, 1.0, open_lo=True, open_hi=True, optional=True),
        "split_seed": Interval(0, float("inf"), integer=True),
        "d": Interval(2, float("inf"), integer=True),
        "whiten": Flag(),
        "rotate": Flag(),
        "seeds": Interval(2, float("inf"), integer=True),
        "n_theory": Interval(2, float("inf"), integer=True),
        **{k: SETTING_CONSTRAINTS[k] for k in SETTING_FIELDS},
    }

    def __post_init__(self) -> None:
        problems = [m for n, c in self.CONSTRAINTS.items() if (m := c.check(n, getattr(self, n))) is not None]
        if len(self.classes) != 2 or len(set(self.classes)) != 2 or any(
                isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in self.classes):
            problems.append(f"'classes' must be two different class labels >= 0; got {list(self.classes)!r}.")
        if not self.alphas or any(isinstance(a, bool) or not isinstance(a, (int, float)) or not a > 0
                                  for a in self.alphas):
            problems.append(f"'alphas' must be a non-empty list of floats > 0; got {list(self.alphas)!r}.")
        if problems:
            raise ConfigError("BridgeConfig: " + " ".join(problems))

    def base_setting(self, delta: float = 1.0, rho: float = 0.5) -> Setting:
        """The Setting of one teacher and one student at the fitted (delta, rho) (alpha set per point)."""
        return Setting(alpha=float(self.alphas[0]), delta=delta, rho=rho, generations=1,
                       **{k: getattr(self, k) for k in SETTING_FIELDS})

    def replace(self, **changes: Any) -> "BridgeConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return to_dict(self)


def parse_bridge(raw: Any, *, quick: bool = False, source: str = "config") -> BridgeConfig:
    """Validate a plain-data bridge experiment (with an optional ``quick:`` block of overrides)."""
    return parse_config(BridgeConfig, raw, quick=quick, source=source, what="a bridge experiment file")


def load_bridge(path: str | Path, *, quick: bool = False) -> BridgeConfig:
    """Read and validate ``experiments/bridge*.yaml``; ``quick=True`` applies its ``quick:`` block."""
    return load_config(BridgeConfig, path, quick=quick, what="bridge experiment file")
