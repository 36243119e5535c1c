"""Typed constraints for configuration fields, with messages that teach.

One constraint object per field: an interval (which ends are open), a set of
choices, or a boolean.  ``check(name, value)`` returns ``None`` when the value is
allowed, else one sentence naming the field, the allowed range and the value.
Used by :class:`kdscope.theory.setting.Setting`; the same objects validate CLI
and config input, so every boundary speaks the same language.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any


class SettingError(ValueError):
    """A model parameter is outside the range where the model is defined.

    The replica equations and the simulations are derived for specific ranges
    (e.g. a class fraction rho strictly between 0 and 1, a flip probability
    theta below 1/2 so that labels still carry information).  The message names
    every offending field, the allowed range and the given value.
    """


@dataclass(frozen=True)
class Interval:
    """A real (or integer) interval; ``lo``/``hi`` may be infinite.

    ``open_lo``/``open_hi`` say whether each end is excluded.  ``optional``
    allows ``None`` (meaning "not used").
    """

    lo: float
    hi: float
    open_lo: bool = False
    open_hi: bool = False
    integer: bool = False
    optional: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a float"
        if self.open_lo and self.open_hi:
            shape = "the open interval"
        elif self.open_lo or self.open_hi:
            shape = "the half-open interval"
        else:
            shape = "the closed interval"
        lb = "(" if self.open_lo else "["
        rb = ")" if self.open_hi else "]"
        text = f"{kind} in {shape} {lb}{_fmt(self.lo)}, {_fmt(self.hi)}{rb}"
        return text + (" or None" if self.optional else "")

    def check(self, name: str, value: Any) -> str | None:
        if value is None and self.optional:
            return None
        ok_type = isinstance(value, Integral) if self.integer else isinstance(value, Real)
        if isinstance(value, bool):
            ok_type = False
        if ok_type and not self.integer and math.isnan(float(value)):
            ok_type = False
        if ok_type:
            v = float(value)
            below = v <= self.lo if self.open_lo else v < self.lo
            above = v >= self.hi if self.open_hi else v > self.hi
            if not (below or above):
                return None
        return f"'{name}' must be {self.describe()}; got {value!r}."

    def example_bad(self) -> Any:
        """A value this constraint rejects (used by the table-walking test)."""
        if math.isfinite(self.hi):
            if self.integer:
                return self.hi + 1
            return self.hi + 0.5 if self.hi + 0.5 > self.hi else self.hi * 10
        return self.lo - 1 if self.integer else self.lo - 0.5


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of values (strings, or None when listed)."""

    options: tuple

    def describe(self) -> str:
        return "one of {" + ", ".join(repr(o) for o in self.options) + "}"

    def check(self, name: str, value: Any) -> str | None:
        if value in self.options and not isinstance(value, bool):
            return None
        return f"'{name}' must be {self.describe()}; got {value!r}."

    def example_bad(self) -> Any:
        return "not-an-option"


@dataclass(frozen=True)
class Flag:
    """A boolean switch."""

    def describe(self) -> str:
        return "a bool (True or False)"

    def check(self, name: str, value: Any) -> str | None:
        if isinstance(value, bool):
            return None
        return f"'{name}' must be {self.describe()}; got {value!r}."

    def example_bad(self) -> Any:
        return "yes"


def _fmt(x: float) -> str:
    if x == math.inf:
        return "inf"
    if x == -math.inf:
        return "-inf"
    return f"{x:g}"


def field_problems(obj: Any, table: dict) -> list[str]:
    """One message per field of the dataclass ``obj`` that violates its entry in ``table`` (field -> constraint)."""
    import dataclasses

    problems = []
    for f in dataclasses.fields(obj):
        msg = table[f.name].check(f.name, getattr(obj, f.name))
        if msg is not None:
            problems.append(msg)
    return problems
