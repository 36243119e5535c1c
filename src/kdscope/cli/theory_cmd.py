"""``kdscope theory``: solve the replica saddle point of one Setting.

    kdscope theory --alpha 2 --delta 0.5 --rho 0.2 --lam-t 0.01 --json

prints the record (Setting fields; per learner m_, q_, V_, b_, eps_, eps_train_,
loss_train_ with suffix t, s, s2 ...; eps_bayes, eps_oracle; converged, status,
iterations, residual, seconds), with a ``chain`` list (one dict per learner)
when there are students.  Exit codes: 0 converged, 2 invalid Setting,
3 not converged.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kdscope.cli._app import app
from kdscope.cli.options import (DEBUG_OPTION, EXIT_INVALID, EXIT_NOT_CONVERGED, JSON_OPTION, OUT_OPTION, fail,
                                 json_safe, setting_command, setting_or_exit, store_or_exit)
from kdscope.columns import suffixes
from kdscope.guards import SOLVER_CONSTRAINTS

SOLVER_PANEL = "Solver (numerics, not physics)"


def _range(name: str) -> str:
    return SOLVER_CONSTRAINTS[name].describe() + " [default: the solver's]"

CHAIN_FIELDS = ("m", "q", "V", "b", "eps", "eps_train", "loss_train")


def chain_of(rec: dict) -> list[dict]:
    """One dict per learner k: {k, m, q, V, b, eps, eps_train, loss_train} (and '<name>_se' when present)."""
    out = []
    for k, x in enumerate(suffixes(int(rec.get("generations", 0)))):
        item = {"k": k}
        for name in CHAIN_FIELDS:
            item[name] = rec.get(f"{name}_{x}")
            if f"{name}_{x}_se" in rec:
                item[f"{name}_se"] = rec[f"{name}_{x}_se"]
        out.append(item)
    return out


def with_chain(rec: dict) -> dict:
    """The record, plus ``chain`` when the Setting has students."""
    rec = dict(rec)
    if int(rec.get("generations", 0)) >= 1:
        rec["chain"] = chain_of(rec)
    return rec


def format_record(rec: dict) -> str:
    """A short human-readable summary of a theory or simulation record."""
    def f(v):
        return "nan" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))

    lines = []
    for item in chain_of(rec):
        who = "teacher" if item["k"] == 0 else f"student{'' if item['k'] == 1 else ' ' + str(item['k'])}"
        parts = []
        for name in CHAIN_FIELDS:
            txt = f"{name}={f(item[name])}"
            if f"{name}_se" in item:
                txt += f"+-{f(item[name + '_se'])}"
            parts.append(txt)
        lines.append(f"{who:<10} " + "  ".join(parts))
    extra = [f"eps_bayes={f(rec.get('eps_bayes'))}", f"eps_oracle={f(rec.get('eps_oracle'))}"]
    if "agreement" in rec:
        extra.append(f"agreement={f(rec.get('agreement'))}")
    lines.append("           " + "  ".join(extra))
    if rec.get("kind") == "sim":
        tail = f"d={rec.get('d')}, {len(rec.get('seeds') or [])} seeds ({rec.get('n_converged')} converged)"
    else:
        tail = f"{rec.get('iterations')} iterations, residual {f(rec.get('residual'))}"
    lines.append(f"status: {rec.get('status')} ({tail}, {f(rec.get('seconds'))} s)")
    return "\n".join(lines)


def solver_options(order, tol, max_iter, damping):
    """SolverOptions from the CLI flags (None when all are left at their defaults).

    Raises :class:`kdscope.guards.SolverOptionsError` naming the flag's option and its range.
    """
    from kdscope.guards import solver_options as checked

    given = {k: v for k, v in dict(order=order, tol=tol, max_iter=max_iter, damping=damping).items() if v is not None}
    return checked(given)


@app.command("theory")
@setting_command()
def theory(
    setting_values: dict,
    student: bool,
    json_out: JSON_OPTION = False,
    out: OUT_OPTION = None,
    order: Annotated[Optional[int], typer.Option("--order", help="Gauss-Hermite nodes per dimension of the "
                                                 "Gaussian integrals: " + _range("order"),
                                                 rich_help_panel=SOLVER_PANEL)] = None,
    tol: Annotated[Optional[float], typer.Option("--tol", help="Tolerance on the relative change of the order "
                                                 "parameters: " + _range("tol"),
                                                 rich_help_panel=SOLVER_PANEL)] = None,
    max_iter: Annotated[Optional[int], typer.Option("--max-iter", help="Iteration cap of the fixed-point "
                                                    "iteration: " + _range("max_iter"),
                                                    rich_help_panel=SOLVER_PANEL)] = None,
    damping: Annotated[Optional[float], typer.Option("--damping", help="Fraction of each new iterate kept (smaller "
                                                     "is more cautious): " + _range("damping"),
                                                     rich_help_panel=SOLVER_PANEL)] = None,
    debug: DEBUG_OPTION = False,
) -> None:
    """Solve the replica-symmetric saddle point of one Setting and print its record."""
    import json

    from kdscope.curves import not_converged_error, theory_point

    setting = setting_or_exit(setting_values, student, debug)
    try:
        opts = solver_options(order, tol, max_iter, damping)
    except ValueError as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    store = store_or_exit(out, debug)
    rec, _ = theory_point(setting, store=store, options=opts)
    rec = with_chain(rec)
    if json_out:
        typer.echo(json.dumps(json_safe(rec)))
    else:
        typer.echo(format_record(rec))
    if not rec.get("converged"):
        exc = not_converged_error(rec, setting)
        fail(str(exc), EXIT_NOT_CONVERGED, debug, exc)
