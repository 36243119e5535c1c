"""``kdscope curve``: a learning curve (theory line, simulation markers) along one Setting field.

    kdscope curve --alpha 0.2:10:50 --rho 0.2 --lam-t 0.01 --sim-d 1000 --seeds 5 --sim-points 8 --out DIR
    kdscope curve --alpha 0.2:10:30 --rho 0.2 --optimal-lam --out DIR      # Fig. 1 of the reference paper

    kdscope curve --alpha 0.5:6:30 --lam-t 0.01,0.1 --student --eta 0.5 --out DIR   # one line per lam_t

One Setting option is a range ('lo:hi:n', 'lo:hi:n:log' or 'a,b,c'): the x axis.  One more may be
a list 'a,b' when the x axis is given as 'lo:hi:n': one line per value.  Theory points are solved
in order with warm starts; every point (theory and simulation) goes through the result store in
DIR, so rerunning resumes.  Writes DIR/<stem>.parquet (tidy: one row per point, column ``kind``
theory/sim, and ``line`` with the line's value) and DIR/<stem>.png / .pdf (errors vs the swept
field with Bayes-optimal and oracle lines, thresholds marked).  Without ``--name`` the stem reads
``curve_<field>-<lo>-<hi>-<n>[_<line field>-<values>]_<hash>``.  The output folder is checked
before anything is computed (exit 2 when it is a file or read-only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kdscope.cli._app import app
from kdscope.cli.options import DEBUG_OPTION, EXIT_INVALID, fail, setting_command, setting_or_exit, store_or_exit
from kdscope.theory.constraints import Interval, SettingError
from kdscope.theory.setting import CONSTRAINTS

SIM_PANEL = "Simulation"
_LOG_FIELDS = ("lam_t", "lam_s", "tau")


def split_sweep(values: dict) -> tuple[dict, str, list[float]]:
    """(fixed option values as numbers, swept field, its values) from the text options of ``curve``.

    Raises ValueError naming the options when there is no range or more than one.
    """
    from kdscope.curves import parse_values

    fixed, ranges = {}, {}
    for name, text in values.items():
        con = CONSTRAINTS[name]
        if not isinstance(con, Interval) or not isinstance(text, str):
            fixed[name] = text
            continue
        if any(c in text for c in ":,"):
            ranges[name] = parse_values(text)
        else:
            try:
                fixed[name] = int(text) if con.integer else float(text)
            except ValueError:
                raise ValueError(f"'{name}' must be {con.describe()}; got {text!r}.") from None
    if len(ranges) != 1:
        opts = ", ".join("--" + n.replace("_", "-") for n in ranges) or "none"
        raise ValueError(f"curve needs exactly one Setting option given as a range lo:hi:n (e.g. --alpha 0.2:10:50); "
                         f"got {len(ranges)} ({opts}).")
    (field, vals), = ranges.items()
    if CONSTRAINTS[field].integer:
        vals = [int(round(v)) for v in vals]
    return fixed, field, vals


def split_lines(values: dict) -> tuple[dict, str, list, str | None, list]:
    """Like :func:`split_sweep`, with one more option allowed as a list: one line per value.

    The x axis is the option given as a range 'lo:hi:n'; a second option given as a list 'a,b'
    makes the lines.  Returns (fixed, field, values, line field or None, line values).
    """
    from kdscope.curves import parse_values

    listed = {k: v for k, v in values.items() if isinstance(v, str) and "," in v and ":" not in v
              and isinstance(CONSTRAINTS[k], Interval)}
    ranged = [k for k, v in values.items() if isinstance(v, str) and any(c in v for c in ":,")
              and isinstance(CONSTRAINTS[k], Interval)]
    line_field, line_values = None, []
    if len(ranged) == 2 and len(listed) == 1:
        line_field = next(iter(listed))
        con = CONSTRAINTS[line_field]
        line_values = [int(round(v)) if con.integer else v for v in parse_values(values[line_field])]
        values = {k: v for k, v in values.items() if k != line_field}
    fixed, field, vals = split_sweep(values)
    return fixed, field, vals, line_field, line_values


@app.command("curve")
@setting_command(numeric_as_text=True)
def curve(
    setting_values: dict,
    student: bool,
    out: Annotated[Path, typer.Option("--out", help="Output folder: result store, table and figure.")] = Path(
        "kdscope-out/curves"),
    optimal_lam: Annotated[bool, typer.Option("--optimal-lam", help="At each point use the ridge that minimises the "
                                              "error (teacher lam_t for K = 1, else student lam_s).")] = False,
    learner: Annotated[Optional[str], typer.Option("--learner", help="Whose ridge --optimal-lam optimises: t or s.")] = None,
    sim_d: Annotated[Optional[int], typer.Option("--sim-d", help="Also simulate at dimension d.",
                                                 rich_help_panel=SIM_PANEL)] = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per simulated point.", rich_help_panel=SIM_PANEL)] = 5,
    sim_points: Annotated[int, typer.Option("--sim-points", help="Number of simulated points along the range.",
                                            rich_help_panel=SIM_PANEL)] = 8,
    log_x: Annotated[Optional[bool], typer.Option("--log-x/--lin-x", help="Logarithmic x axis (default: for lam and "
                                                  "tau sweeps and log ranges).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="File stem of the table and figure.")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="tqdm progress bars.")] = True,
    debug: DEBUG_OPTION = False,
) -> None:
    """Solve the theory along a range (warm starts), simulate at some points, write table and figure.

    One option is a range lo:hi:n (the x axis); one more may be a list a,b (one line per value).
    """
    import time

    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from kdscope.curves import compute_curve, curve_figure
    from kdscope.simulations import check_size
    from kdscope.store import write_figure, write_table

    t0 = time.perf_counter()
    try:
        fixed, field, values, line_field, line_values = split_lines(setting_values)
    except ValueError as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    base = setting_or_exit(dict(fixed, **{field: values[0]}), student, debug)
    try:
        bases = [base.replace(**{line_field: v}) for v in line_values] if line_field else [base]
        for b in bases:
            for v in values:
                b.replace(**{field: v})
    except SettingError as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    optimal = None
    if optimal_lam:
        optimal = learner or ("t" if base.generations == 0 else "s")
        if optimal not in ("t", "s") or (optimal == "s" and base.generations == 0):
            fail(f"'--learner' must be 't' or 's' (and 's' needs a student); got {optimal!r}.", EXIT_INVALID)
    if sim_d is not None:
        try:
            if sim_points < 1:
                raise ValueError(f"'--sim-points' must be an integer >= 1; got {sim_points}.")
            for b in bases:  # the largest simulation first: before any computation
                check_size(b.replace(**{field: max(values)}) if field in ("alpha", "alpha_s") else b, sim_d, seeds)
        except ValueError as exc:
            fail(str(exc), EXIT_INVALID, debug, exc)
    store = store_or_exit(out, debug)
    typer.echo(f"curve over {field} ({len(values)} points from {values[0]:g} to {values[-1]:g})"
               + (f", one line per {line_field} in {line_values}" if line_field else "")
               + (f", optimal lam_{optimal}" if optimal else "")
               + (f", simulations at {min(sim_points, len(values))} points (d={sim_d}, {seeds} seeds)" if sim_d else "")
               + f" -> {out}")
    frames = []
    for b in bases:
        df = compute_curve(b, field, values, store=store, optimal=optimal, sim_d=sim_d, sim_seeds=seeds,
                           sim_points=sim_points, progress=progress, echo=None if progress else typer.echo)
        if line_field:
            df["line"] = getattr(b, line_field)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    stem = name or curve_stem(base, field, values, line_field, line_values, optimal, sim_d, seeds, sim_points)
    table = out / f"{stem}.parquet"
    write_table(df, table)
    logx = log_x if log_x is not None else (field in _LOG_FIELDS or (values[0] > 0 and values[-1] / values[0] > 100))
    fig = curve_figure(df, base, field, logx=logx, title=_title(base, field, optimal, line_field),
                       group=line_field)
    write_figure(fig, out / stem)
    theory = df[df["kind"].astype(str).str.startswith("theory")]
    n_ok = int(theory["converged"].astype(bool).sum())
    typer.echo(f"done: {n_ok}/{len(theory)} theory points converged"
               + (f", {int((df['kind'] == 'sim').sum())} simulated" if sim_d else "")
               + f" in {time.perf_counter() - t0:.1f} s\ntable: {table}\nfigure: {out / (stem + '.png')}")


def curve_stem(base, field: str, values, line_field, line_values, optimal, sim_d, seeds, sim_points) -> str:
    """A readable file stem: 'curve_<field>-<lo>-<hi>-<n>[_<line field>-<values>]_<short hash>'."""
    import hashlib
    import json

    from kdscope.keys import canonical

    parts = [f"curve_{field}-{values[0]:g}-{values[-1]:g}-{len(values)}"]
    if line_field:
        parts.append(f"{line_field}-" + "-".join(f"{v:g}" for v in line_values))
    if optimal:
        parts.append(f"optlam-{optimal}")
    payload = json.dumps(canonical(dict(base=base, values=values, line=[line_field, line_values], optimal=optimal,
                                        sim=[sim_d, seeds, sim_points] if sim_d else None)), sort_keys=True)
    parts.append(hashlib.sha256(payload.encode()).hexdigest()[:8])
    return "_".join(parts)


def _title(s, field: str, optimal: str | None, line_field: str | None = None) -> str:
    parts = [f"delta={s.delta:g}", f"rho={s.rho:g}"]
    if field != "lam_t" and optimal != "t" and line_field != "lam_t":
        parts.append(f"lam_t={s.lam_t:g}")
    if s.generations:
        parts += [f"eta={s.eta:g}", f"xi={s.xi:g}"]
        if field != "lam_s" and optimal != "s" and line_field != "lam_s":
            parts.append(f"lam_s={s.lam_s:g}")
    if optimal:
        parts.append(f"optimal lam_{optimal}")
    return ", ".join(parts)
