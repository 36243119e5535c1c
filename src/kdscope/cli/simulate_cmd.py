"""``kdscope simulate``: finite-size Monte Carlo of one Setting.

    kdscope simulate --alpha 2 --lam-t 0.01 --d 1000 --seeds 10 --json

prints the seed-averaged record: the theory's column names, each observable with
its standard error '<name>_se', plus 'd', 'seeds' (the list of seeds),
'n_converged' and 'converged'.  Exit codes: 0 every seed converged, 2 invalid
Setting, size (memory estimate above the limit of ``kdscope.simulations.guards``), seeds
(count above 1000 or duplicates) or output folder, 3 a seed's optimiser did not converge.
"""

from __future__ import annotations

from typing import Annotated

import typer

from kdscope.cli._app import app
from kdscope.cli.options import (DEBUG_OPTION, EXIT_INVALID, EXIT_NOT_CONVERGED, JSON_OPTION, OUT_OPTION, fail,
                                 json_safe, setting_command, setting_or_exit, store_or_exit)
from kdscope.cli.theory_cmd import format_record, with_chain

SIM_PANEL = "Simulation"


def parse_seeds(text: str) -> int | list[int]:
    """``--seeds``: a count ('10') or a comma-separated list ('0,3,7'); checked by the simulation's seed guard."""
    try:
        if "," in text:
            return [int(x) for x in text.split(",") if x.strip()]
        return int(text)
    except ValueError:
        raise ValueError(f"simulate: 'seeds' must be an integer count or a comma-separated list of integers; "
                         f"got {text!r}.") from None


@app.command("simulate")
@setting_command()
def simulate(
    setting_values: dict,
    student: bool,
    d: Annotated[int, typer.Option("--d", help="Dimension d (n = alpha d samples).", rich_help_panel=SIM_PANEL)] = 1000,
    seeds: Annotated[str, typer.Option("--seeds", help="Seeds: a count n (seeds 0 .. n-1, n <= 1000) or a list of "
                                       "distinct integers a,b,c.", rich_help_panel=SIM_PANEL)] = "10",
    json_out: JSON_OPTION = False,
    out: OUT_OPTION = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="tqdm bar over seeds.")] = False,
    debug: DEBUG_OPTION = False,
) -> None:
    """Train every learner of a Setting at dimension d over several seeds; print averages and standard errors."""
    import json

    from kdscope.curves import sim_point
    from kdscope.simulations import check_size

    setting = setting_or_exit(setting_values, student, debug)
    try:
        seed_arg = parse_seeds(seeds)
        check_size(setting, d, seed_arg)  # before any allocation
    except ValueError as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    store = store_or_exit(out, debug)
    try:
        rec = sim_point(setting, d=d, seeds=seed_arg, store=store, progress=progress)
    except ValueError as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    rec = with_chain(rec)
    typer.echo(json.dumps(json_safe(rec)) if json_out else format_record(rec))
    if not rec.get("converged"):
        fail(f"simulate: {rec.get('n_converged')} of {len(rec.get('seeds') or [])} seeds converged "
             f"({rec.get('status')}).", EXIT_NOT_CONVERGED)
