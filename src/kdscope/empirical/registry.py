"""Explicit name -> object registries for the empirical side, and the config error.

A config names things (``loss: kl``, ``aggregator: uncertainty``, ``arch: resnet``);
each name resolves through one :class:`Registry`.  A registry refuses duplicate
names, and asking for an unknown name raises :class:`ConfigError` listing every
known one.  Configs never import or run code: the registries are filled here, in
the modules that define the objects, at import time.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """An experiment configuration is malformed or names something unknown.

    Raised at the boundary (YAML loading, dataclass construction, the CLI) with
    one sentence per problem, each naming the offending field by its dotted path
    (``students[2].tau``), the allowed values and the given value.  Inner training
    code trusts validated configs and never raises it.
    """


class Registry(Generic[T]):
    """A named collection of objects (builders, loss functions, classes).

    Parameters
    ----------
    kind : str
        What the registry holds, in words ("soft loss", "model architecture");
        used in error messages.

    Examples
    --------
    >>> r = Registry("colour")
    >>> r.register("red", 1)
    1
    >>> r.get("red")
    1
    >>> r.get("blue")
    Traceback (most recent call last):
    ...
    kdscope.empirical.registry.ConfigError: unknown colour 'blue'; known: {'red'}.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T) -> T:
        """Add ``obj`` under ``name``; a name already present raises ``KeyError``."""
        if name in self._items:
            raise KeyError(f"{self.kind} {name!r} is already registered; registries refuse duplicates.")
        self._items[name] = obj
        return obj

    def decorator(self, name: str):
        """``@REG.decorator("name")`` registers the decorated object under ``name``."""

        def wrap(obj: T) -> T:
            return self.register(name, obj)

        return wrap

    def get(self, name: str) -> T:
        """The object registered under ``name``; unknown names raise :class:`ConfigError`."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            close = difflib.get_close_matches(str(name), self._items, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {self.describe_names()}{hint}.") from None

    def describe_names(self) -> str:
        return "{" + ", ".join(repr(k) for k in self._items) + "}"

    def names(self) -> tuple[str, ...]:
        return tuple(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)


@dataclass(frozen=True)
class RegistryChoice:
    """Constraint for a config field whose value must be a name in ``registry``.

    Same interface as the constraints of :mod:`kdscope.theory.constraints`
    (``describe``, ``check``, ``example_bad``), but the set of allowed names is
    read from the registry at check time.
    """

    registry: Registry

    def describe(self) -> str:
        return f"a registered {self.registry.kind}, one of {self.registry.describe_names()}"

    def check(self, name: str, value: Any) -> str | None:
        if isinstance(value, str) and value in self.registry:
            return None
        return f"'{name}' must be {self.describe()}; got {value!r}."

    def example_bad(self) -> Any:
        return "not-a-registered-name"
