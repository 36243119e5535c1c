"""Input guards of the application layer: solver options, output folders, sweep sizes.

Each guard raises a ``ValueError`` subclass whose message is one sentence naming the parameter,
its allowed range and the given value, in the form of the Setting's messages, before anything
is computed or allocated.  The CLI turns them into exit code 2 without a traceback.

* :func:`solver_options`: a SolverOptions from plain values (CLI flags, a sweep's ``solver:``
  block), every value checked against :data:`SOLVER_CONSTRAINTS` first.  When the theory's own
  SolverOptions validates its fields, its messages apply as well.
* :func:`writable_dir`: an output folder that exists (or can be created) and accepts files,
  checked before the first point is computed.
* :data:`MAX_SWEEP_POINTS`, :data:`MAX_AXIS_POINTS`: the largest sweep grid and axis accepted.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

from kdscope.theory import SolverOptions
from kdscope.theory.constraints import Interval

__all__ = ["SolverOptionsError", "OutputFolderError", "solver_options", "writable_dir", "SOLVER_CONSTRAINTS",
           "MAX_SWEEP_POINTS", "MAX_AXIS_POINTS"]

#: Most points one sweep may hold (a 1000 x 1000 grid); larger grids fail while the file is validated.
MAX_SWEEP_POINTS = 1_000_000
#: Most values one axis (linspace / geomspace / logspace) may generate.
MAX_AXIS_POINTS = 100_000

#: Allowed values of the solver options (numerics, not physics).  ``order`` None is the default rule.
#: The theory's own table (``kdscope.theory.options.OPTION_CONSTRAINTS``) is used when it exists.
SOLVER_CONSTRAINTS = {
    "order": Interval(4, 1000, integer=True, optional=True),
    "tol": Interval(0.0, 1.0, open_lo=True),
    "max_iter": Interval(1, 10_000_000, integer=True),
    "damping": Interval(0.0, 1.0, open_lo=True),
    "memory": Interval(0, 100, integer=True),
    "bound": Interval(0.0, math.inf, open_lo=True, open_hi=True),
}
try:  # one table: the theory's, once it has one
    from kdscope.theory.options import OPTION_CONSTRAINTS as _THEORY_TABLE
except ImportError:  # pragma: no cover - depends on the theory version
    _THEORY_TABLE = None
if isinstance(_THEORY_TABLE, dict):  # pragma: no cover - depends on the theory version
    SOLVER_CONSTRAINTS = dict(_THEORY_TABLE)


class SolverOptionsError(ValueError):
    """A solver option is outside the range where the fixed-point iteration is meaningful (or of the wrong type)."""


class OutputFolderError(ValueError):
    """An output folder is a file, cannot be created, or does not accept new files."""


def solver_options(values: Mapping[str, Any] | None, where: str = "SolverOptions") -> SolverOptions | None:
    """SolverOptions from plain values (None or empty: None, the solver's defaults).

    Raises SolverOptionsError naming every bad option: ``"SolverOptions: 'tol' must be a float in the
    half-open interval (0, 1]; got -1.0."``; ``where`` replaces the prefix (e.g. "sweep config 'solver'").
    """
    if not values:
        return None
    known = [f.name for f in dataclasses.fields(SolverOptions)]
    unknown = [k for k in values if k not in known]
    if unknown:
        raise SolverOptionsError(f"{where}: unknown option(s) {unknown}; known options: {', '.join(known)}.")
    problems = []
    for name, value in values.items():
        con = SOLVER_CONSTRAINTS.get(name)
        msg = con.check(name, value) if con is not None else None
        if msg is not None:
            problems.append(msg)
    if problems:
        raise SolverOptionsError(f"{where}: " + " ".join(problems))
    try:
        return SolverOptions(**dict(values))
    except (TypeError, ValueError) as exc:  # the theory's own checks, when it has them
        msg = str(exc)
        if msg.startswith("SolverOptions: ") and where != "SolverOptions":
            msg = msg[len("SolverOptions: "):]
        raise SolverOptionsError(msg if msg.startswith(where) else f"{where}: {msg}") from None


def writable_dir(path: str | os.PathLike, name: str = "--out") -> Path:
    """Create ``path`` if needed and check that files can be written there; return it as a Path.

    Raises OutputFolderError ("'--out' must be a folder that accepts new files; ... is a file")
    before any computation, instead of a traceback after the first point.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputFolderError(f"'{name}' must be a folder; {str(path)!r} is a file.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".kdscope-write-check.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputFolderError(f"'{name}' must be a folder that accepts new files; {str(path)!r}: {reason}.") from None
    return path
