"""Command-line options generated from the Setting dataclass and its constraint table.

Every Setting field becomes an option of the same name with dashes
(``lam_t`` -> ``--lam-t``); booleans become ``--tau2-factor/--no-tau2-factor``.
Each option defaults to None ("not given"), so the Setting's own defaults apply
and validation happens once, in ``Setting.__post_init__``, with its
one-sentence messages.  The help text of each option says what the field
means (:data:`MEANINGS`, one line per field), then its constraint
(``CONSTRAINTS[name].describe()``) and its default.

:func:`setting_command` wraps a command function ``f(setting_values, ...)``:
the wrapper's signature (which typer reads) is f's own parameters plus one
option per field; the wrapper collects the field options into the dict
``setting_values`` and calls f.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from kdscope.theory.constraints import Choice, Flag, Interval, SettingError
from kdscope.theory.setting import CONSTRAINTS, Setting

__all__ = ["setting_command", "build_setting", "out_dir_or_exit", "setting_or_exit", "store_or_exit", "fail", "json_safe", "EXIT_INVALID",
           "EXIT_NOT_CONVERGED", "DEBUG_OPTION", "JSON_OPTION", "OUT_OPTION", "MEANINGS"]

EXIT_INVALID = 2
EXIT_NOT_CONVERGED = 3
SETTING_PANEL = "Setting (the distillation problem)"

#: What each Setting field means, in one line (DESIGN.md notation); the help text of its option.
MEANINGS = {
    "alpha": "samples per dimension n/d (the teacher's, and the students' unless --alpha-s is given)",
    "delta": "noise variance of each input coordinate (x = y mu/sqrt(d) + sqrt(delta) z)",
    "rho": "fraction of the class y = +1 (0.5 is balanced)",
    "theta": "probability that a training label is flipped (label noise; test errors use clean labels)",
    "eta": "fraction of the input coordinates a student trains (sparse student; 1 is dense)",
    "lam_t": "ridge strength of the teacher (lambda_T)",
    "lam_s": "ridge strength of every student (lambda_S)",
    "xi": "weight of the soft (teacher) term in a student's loss: 0 ordinary training, 1 pure distillation",
    "tau": "temperature of the kl soft loss (softened teacher probabilities)",
    "tau2_factor": "multiply the kl soft loss by tau^2 (Hinton's convention); off is the paper's Appendix B",
    "loss_t": "hard-label loss of the teacher",
    "loss_s": "hard-label loss of the students",
    "soft": "soft loss of the students: kl (softened cross-entropy), mse (logit matching), pseudo (hard pseudo-labels)",
    "smooth_t": "label smoothing epsilon of the teacher's logistic loss",
    "smooth_s": "label smoothing epsilon of the students' logistic loss",
    "generations": "number of students in the chain (0 the teacher alone, 1 one student, 2 its student ...)",
    "teacher": "teacher kind: erm (trained on the same samples), bayes (Bayes-optimal proxy), fixed (given m0, q0, b0)",
    "m0": "overlap of a fixed teacher with the cluster mean, w0.mu/d (--teacher fixed)",
    "q0": "squared norm of a fixed teacher, |w0|^2/d (--teacher fixed; q0 >= m0^2)",
    "b0": "bias of a fixed teacher (--teacher fixed)",
    "alpha_s": "fresh samples per dimension for the students (fresh-sample distillation; default: the same samples)",
    "bias": "train an unregularised bias for every learner",
}


def _option_for(field: dataclasses.Field, as_text: bool) -> tuple[Any, Any]:
    """(annotation, default) of the typer option of one Setting field."""
    name = field.name
    con = CONSTRAINTS[name]
    dashed = "--" + name.replace("_", "-")
    default = field.default
    help_text = f"{MEANINGS.get(name, name)}; {con.describe()} [Setting default: {default!r}]"
    if isinstance(con, Flag):
        decl = f"{dashed}/--no-{name.replace('_', '-')}"
        return Optional[bool], typer.Option(None, decl, help=help_text, show_default=False,
                                            rich_help_panel=SETTING_PANEL)
    if isinstance(con, Choice):
        return Optional[str], typer.Option(None, dashed, help=help_text, show_default=False,
                                           rich_help_panel=SETTING_PANEL)
    assert isinstance(con, Interval)
    if as_text:  # a number, or a range 'lo:hi:n' (curve command)
        help_text += "; a range lo:hi:n[:log] or a list a,b,c sweeps it"
        return Optional[str], typer.Option(None, dashed, help=help_text, show_default=False,
                                           rich_help_panel=SETTING_PANEL)
    kind = int if con.integer else float
    return Optional[kind], typer.Option(None, dashed, help=help_text, show_default=False,
                                        rich_help_panel=SETTING_PANEL)


def setting_command(numeric_as_text: bool = False) -> Callable[[Callable], Callable]:
    """Decorator: add one option per Setting field (plus ``--student``) to a command.

    The decorated function takes ``setting_values`` (dict of the given fields,
    None-valued ones left out; numeric values as text when ``numeric_as_text``)
    and ``student`` (bool) as its first two parameters, then its own options.
    """

    def deco(func: Callable) -> Callable:
        own = list(inspect.signature(func).parameters.values())
        if [p.name for p in own[:2]] != ["setting_values", "student"]:
            raise TypeError("setting_command: the function must start with (setting_values, student, ...).")
        own = own[2:]
        fields = dataclasses.fields(Setting)
        params, annotations = [], {}
        for f in fields:
            ann, default = _option_for(f, numeric_as_text)
            params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann))
            annotations[f.name] = ann
        student_ann = bool
        params.append(inspect.Parameter(
            "student", inspect.Parameter.KEYWORD_ONLY, annotation=student_ann,
            default=typer.Option(False, "--student", help="One student (generations=1) unless --generations is given.",
                                 rich_help_panel=SETTING_PANEL)))
        annotations["student"] = student_ann
        hints = typing_hints(func)
        for p in own:
            ann = hints.get(p.name, p.annotation)
            params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=ann))
            annotations[p.name] = ann
        names = {f.name for f in fields}

        @functools.wraps(func)
        def wrapper(**kwargs):
            values = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
            values = {k: v for k, v in values.items() if v is not None}
            return func(values, kwargs.pop("student"), **kwargs)

        wrapper.__signature__ = inspect.Signature(params)
        wrapper.__annotations__ = annotations
        del wrapper.__wrapped__  # typer must read the new signature, not func's
        return wrapper

    return deco


def typing_hints(func: Callable) -> dict:
    import typing

    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:  # pragma: no cover - unresolvable annotations: use the raw ones
        return dict(getattr(func, "__annotations__", {}))


def build_setting(values: dict, student: bool = False) -> Setting:
    """The Setting of the given option values (``--student``: generations=1 unless given).

    Raises
    ------
    SettingError
        With the Setting's one-sentence message(s).
    """
    values = dict(values)
    if student and "generations" not in values:
        values["generations"] = 1
    return Setting(**values)


def fail(message: str, code: int, debug: bool = False, exc: BaseException | None = None) -> None:
    """Print ``message`` (one line) to stderr and exit with ``code``; with ``debug`` re-raise ``exc``."""
    if debug and exc is not None:
        raise exc
    typer.echo(" ".join(str(message).split()), err=True)
    raise typer.Exit(code=code)


def setting_or_exit(values: dict, student: bool, debug: bool) -> Setting:
    """:func:`build_setting`, turning a SettingError into exit code 2 with its message."""
    try:
        return build_setting(values, student)
    except SettingError as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    raise AssertionError  # pragma: no cover


def store_or_exit(out: Path | None, debug: bool = False, name: str = "--out"):
    """The ResultStore in ``out`` (None: no store) after checking that files can be written there (else exit 2)."""
    if out is None:
        return None
    from kdscope.guards import writable_dir
    from kdscope.store import ResultStore

    try:
        return ResultStore(writable_dir(out, name))
    except (ValueError, OSError) as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    raise AssertionError  # pragma: no cover


def out_dir_or_exit(out: Path, debug: bool = False, name: str = "--out") -> Path:
    """``out`` created and checked to accept new files before anything is computed (else exit 2)."""
    from kdscope.guards import writable_dir

    try:
        return writable_dir(out, name)
    except (ValueError, OSError) as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    raise AssertionError  # pragma: no cover


def json_safe(obj: Any) -> Any:
    """NaN and infinities become None (strict JSON); numpy scalars become Python ones."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


DEBUG_OPTION = Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")]
OUT_OPTION = Annotated[Optional[Path], typer.Option("--out", help="Result-store folder: the record is stored "
                                                     "there, and a stored point is not recomputed.")]
JSON_OPTION = Annotated[bool, typer.Option("--json", help="Print one JSON object (the record).")]
