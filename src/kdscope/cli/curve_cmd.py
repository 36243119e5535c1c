"""``kdscope curve``: a learning curve (theory line, simulation markers) along one Setting field.

    kdscope curve --alpha 0.2:10:50 --rho 0.2 --lam-t 0.01 --sim-d 1000 --seeds 5 --sim-points 8 --out DIR
    kdscope curve --alpha 0.2:10:30 --rho 0.2 --optimal-lam --out DIR      # Fig. 1 of the reference paper

Exactly one Setting option is a range ('lo:hi:n', 'lo:hi:n:log' or 'a,b,c').
Theory points are solved in order with warm starts; every point (theory and
simulation) goes through the result store in DIR, so rerunning resumes.  Writes
DIR/<stem>.parquet (tidy: one row per point, column ``kind`` theory/sim) and
DIR/<stem>.png / .pdf (errors vs the swept field with Bayes-optimal and oracle
lines, thresholds marked).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kdscope.cli._app import app
from kdscope.cli.options import DEBUG_OPTION, EXIT_INVALID, fail, setting_command, setting_or_exit
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
    """Solve the theory along a range (warm starts), simulate at some points, write table and figure."""
    import time

    import matplotlib

    matplotlib.use("Agg")
    from kdscope.curves import compute_curve, curve_figure
    from kdscope.store import ResultStore, point_key, write_table

    t0 = time.perf_counter()
    try:
        fixed, field, values = split_sweep(setting_values)
    except ValueError as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    base = setting_or_exit(dict(fixed, **{field: values[0]}), student, debug)
    try:
        for v in values:
            base.replace(**{field: v})
    except SettingError as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    optimal = None
    if optimal_lam:
        optimal = learner or ("t" if base.generations == 0 else "s")
        if optimal not in ("t", "s") or (optimal == "s" and base.generations == 0):
            fail(f"'--learner' must be 't' or 's' (and 's' needs a student); got {optimal!r}.", EXIT_INVALID)
    if sim_d is not None and (sim_d < 2 or seeds < 1):
        fail(f"'--sim-d' must be >= 2 and '--seeds' >= 1; got {sim_d}, {seeds}.", EXIT_INVALID)
    store = ResultStore(out)
    typer.echo(f"curve over {field} ({len(values)} points from {values[0]:g} to {values[-1]:g})"
               + (f", optimal lam_{optimal}" if optimal else "")
               + (f", simulations at {min(sim_points, len(values))} points (d={sim_d}, {seeds} seeds)" if sim_d else "")
               + f" -> {out}")
    df = compute_curve(base, field, values, store=store, optimal=optimal, sim_d=sim_d, sim_seeds=seeds,
                       sim_points=sim_points, progress=progress, echo=None if progress else typer.echo)
    stem = name or point_key(base.replace(**{field: values[0]}), f"curve-{field}", values=values, optimal=optimal,
                             sim_d=sim_d, seeds=seeds if sim_d else None, sim_points=sim_points if sim_d else None)
    out.mkdir(parents=True, exist_ok=True)
    table = out / f"{stem}.parquet"
    write_table(df, table)
    logx = log_x if log_x is not None else (field in _LOG_FIELDS or (values[0] > 0 and values[-1] / values[0] > 100))
    fig = curve_figure(df, base, field, logx=logx, title=_title(base, field, optimal))
    for ext in ("png", "pdf"):
        fig.savefig(out / f"{stem}.{ext}")
    theory = df[df["kind"].astype(str).str.startswith("theory")]
    n_ok = int(theory["converged"].astype(bool).sum())
    typer.echo(f"done: {n_ok}/{len(theory)} theory points converged"
               + (f", {int((df['kind'] == 'sim').sum())} simulated" if sim_d else "")
               + f" in {time.perf_counter() - t0:.1f} s\ntable: {table}\nfigure: {out / (stem + '.png')}")


def _title(s, field: str, optimal: str | None) -> str:
    parts = [f"delta={s.delta:g}", f"rho={s.rho:g}"]
    if field != "lam_t" and optimal != "t":
        parts.append(f"lam_t={s.lam_t:g}")
    if s.generations:
        parts += [f"eta={s.eta:g}", f"xi={s.xi:g}"]
        if field != "lam_s" and optimal != "s":
            parts.append(f"lam_s={s.lam_s:g}")
    if optimal:
        parts.append(f"optimal lam_{optimal}")
    return ", ".join(parts)
