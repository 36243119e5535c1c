"""Store keys: one canonical, readable name per computation.

A key names a computation completely and reads like what it is::

    theory__alpha=2.5,lam_t=0.1__3f9c0a51d2e4b6a7
    sim__alpha=2,d=1000,seeds=10__0d1e...
    theory-optlam-t__alpha=3,lam_t=opt__a1b2...

Three parts separated by ``__``: the *kind* of computation (letters, digits,
dashes), a *label* (alpha and the Setting fields that differ from their defaults, then
the extra parameters such as ``d``; a field left free by an optimisation reads
``=opt``), and a 16-hex-digit hash of everything that changes the result.  The
label is for people (file names of the store's points) and is derived from the same
canonical values as the hash, so equal computations get equal keys; a label longer
than :data:`MAX_LABEL` is cut (the hash keeps such keys apart).

Canonical numbers: the hash sees every number as a float with -0.0 folded into
0.0, so ``Setting(alpha=2)`` and ``Setting(alpha=2.0)``, or ``lam_t=0``,
``0.0`` and ``-0.0``, name the same point (:func:`canonical`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from numbers import Integral, Real
from typing import Any, Mapping

__all__ = ["canonical", "point_key", "kind_of", "label_of", "MAX_LABEL"]

#: Longest label kept in a key (the hash keeps keys unique when a label is cut).
MAX_LABEL = 96
_SEP = "__"
#: Fields always shown in a label (the usual x axis), even at their default value.
_ALWAYS = ("alpha",)


def canonical(value: Any) -> Any:
    """A JSON-stable form of a key parameter.

    Numbers become floats (-0.0 -> 0.0; NaN and infinities their repr), booleans
    stay booleans, dataclasses and mappings become key-sorted dicts, sequences
    lists, numpy scalars Python scalars.

    Examples
    --------
    >>> canonical(2) == canonical(2.0) == canonical(2.0 + 0.0), canonical(-0.0), canonical(True)
    (True, 0.0, True)
    """
    if hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        value = value.item()  # numpy scalar
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (Integral, Real)):
        v = float(value)
        return v + 0.0 if math.isfinite(v) else repr(v)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [canonical(v) for v in items]
    return repr(value)


def _short(value: Any) -> str:
    """A value as it appears in a label: numbers in %g form, booleans and names as text."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (Integral, Real)):
        v = float(value) + 0.0
        return f"{v:.6g}"
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, Integral) for v in value) and list(value) == list(range(len(value))):
            return str(len(value))  # seeds 0 .. n-1: the count
        return "[" + ",".join(_short(v) for v in value) + "]"
    text = str(value)
    return "".join(c if (c.isalnum() or c in "-.+") else "-" for c in text)[:24]


def label_of(setting, free: tuple[str, ...] = (), **params: Any) -> str:
    """The readable part of a key: alpha, the other non-default Setting fields, then ``params`` (``None`` dropped)."""
    defaults = type(setting)()
    parts = []
    for f in dataclasses.fields(setting):
        if f.name in free:
            parts.append(f"{f.name}=opt")
            continue
        v = getattr(setting, f.name)
        if f.name in _ALWAYS or canonical(v) != canonical(getattr(defaults, f.name)):
            parts.append(f"{f.name}={_short(v)}")
    for k in sorted(params):
        v = params[k]
        if v is None or dataclasses.is_dataclass(v):
            continue  # solver options enter the hash only
        parts.append(f"{k}={_short(v)}")
    label = ",".join(parts) or "default"
    if len(label) > MAX_LABEL:
        label = label[:MAX_LABEL].rsplit(",", 1)[0] + ",+"
    return label


def point_key(setting, kind: str = "theory", free: tuple[str, ...] = (), **params: Any) -> str:
    """The store key of one computation: ``'<kind>__<label>__<hash>'``.

    Parameters
    ----------
    setting : kdscope.Setting
        The problem.  Its fields enter the hash in canonical form (:func:`canonical`).
    kind : str
        What was computed: 'theory', 'sim', 'theory-optlam-t' ...  Letters, digits and dashes only.
    free : tuple of field names
        Fields the computation chooses itself (an optimised ridge): left out of the hash, ``=opt`` in the label.
    **params
        Everything else that changes the result (``d``, ``seeds``, solver options as a dataclass, optimisation
        bounds).  ``None`` values are dropped, so ``point_key(s, 'theory', options=None) == point_key(s, 'theory')``.

    Examples
    --------
    >>> from kdscope import Setting
    >>> point_key(Setting(alpha=2), "sim", d=100, seeds=3) == point_key(Setting(alpha=2.0), "sim", seeds=3, d=100)
    True
    >>> point_key(Setting(alpha=2.5, lam_t=0.1), "theory").rsplit("__", 1)[0]
    'theory__alpha=2.5,lam_t=0.1'
    """
    if not isinstance(kind, str) or not kind or not all(c.isalnum() or c == "-" for c in kind):
        raise ValueError(f"point_key: 'kind' must be letters, digits and dashes; got {kind!r}.")
    fields = {f.name: canonical(getattr(setting, f.name)) for f in dataclasses.fields(setting) if f.name not in free}
    extra = {k: canonical(v) for k, v in params.items() if v is not None}
    payload = json.dumps({"kind": kind, "setting": fields, "free": sorted(free), "params": extra}, sort_keys=True)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return f"{kind}{_SEP}{label_of(setting, free, **params)}{_SEP}{digest}"


def kind_of(key: str) -> str:
    """The kind part of a key (also of the older '<kind>-<16 hex>[-<12 hex>]' keys)."""
    if _SEP in key:
        return key.split(_SEP, 1)[0]
    parts = key.split("-")
    for i, part in enumerate(parts):
        if i > 0 and len(part) == 16 and all(c in "0123456789abcdef" for c in part):
            return "-".join(parts[:i])
    return parts[0]
