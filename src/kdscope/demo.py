"""``make demo``: learning curves with simulations, the optimal-ridge curve and the paper figures (quick).

Writes into one folder (default ``kdscope-out``)::

    store/                 the result store (rerunning the demo recomputes nothing)
    demo/*.parquet, *.png  K = 1 and K = 2 learning curves: theory lines, simulation
                           markers (d = 500, 3 seeds), Bayes-optimal and oracle lines
    paper/*.parquet, *.png the reference paper's figures (quick grids) and extensions

Budget: a few minutes on 2 cores.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from kdscope.theory.setting import Setting

__all__ = ["run_demo", "demo_curves"]


def demo_curves() -> list[tuple[str, Setting, str, list[float]]]:
    """(name, base Setting, field, values) of the demo learning curves."""
    from kdscope.curves import parse_values

    return [
        ("k1_logistic_lam0.1", Setting(delta=1.0, rho=0.2, lam_t=0.1), "alpha", parse_values("0.25:6:24")),
        ("k2_kd_lam0.1", Setting(delta=1.0, rho=0.2, lam_t=0.1, generations=1, eta=0.5, xi=1.0, lam_s=1e-4), "alpha",
         parse_values("0.75:6:22")),
    ]


def run_demo(out: str | Path = "kdscope-out", sim_d: int = 500, seeds: int = 3, sim_points: int = 5,
             paper: bool = True, progress: bool = True, echo: Callable[[str], None] = print) -> list[Path]:
    """Run the demo; returns the written files (tables and figures)."""
    import matplotlib.pyplot as plt

    from kdscope.curves import compute_curve, curve_figure
    from kdscope.recipes import make_figure, paper_recipes
    from kdscope.store import ResultStore, write_figure, write_table

    t0 = time.perf_counter()
    out = Path(out)
    store = ResultStore(out / "store")
    written: list[Path] = []
    echo(f"kdscope demo -> {out}  (learning curves with simulations at d={sim_d}, {seeds} seeds; "
         f"paper figures: {'quick' if paper else 'skipped'})")
    demo_dir = out / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    for name, base, field, values in demo_curves():
        echo(f"== {name}: theory over {field} in [{values[0]:g}, {values[-1]:g}], simulations at {sim_points} points")
        df = compute_curve(base, field, values, store=store, sim_d=sim_d, sim_seeds=seeds, sim_points=sim_points,
                           progress=progress, echo=None if progress else echo)
        written.append(write_table(df, demo_dir / f"{name}.parquet"))
        fig = curve_figure(df, base.replace(**{field: values[0]}), field,
                           title=rf"$\delta = {base.delta:g}$, $\rho = {base.rho:g}$")
        written.extend(write_figure(fig, demo_dir / name))
        plt.close(fig)
        echo(f"   {_status(df)} ({time.perf_counter() - t0:.0f} s so far)")
    if paper:
        for recipe in paper_recipes(quick=True):
            t1 = time.perf_counter()
            echo(f"== {recipe.name}: {recipe.title}")
            df, paths = make_figure(recipe, store, out / "paper", progress=progress,
                                    echo=None if progress else (lambda _line: None))
            written.extend(paths)
            echo(f"   {_status(df)} in {time.perf_counter() - t1:.1f} s -> {next(p for p in paths if p.suffix == '.png')}")
    echo(f"demo done in {time.perf_counter() - t0:.0f} s: {len(written)} files under {out}")
    return written


def _status(df) -> str:
    kinds = df["kind"].astype(str) if "kind" in df.columns else None
    if kinds is None:
        return f"{len(df)} rows"
    theory = df[kinds.str.startswith("theory")]
    sims = df[kinds == "sim"]
    ok = int(theory["converged"].astype(bool).sum()) if len(theory) else 0
    text = f"{ok}/{len(theory)} theory points converged"
    if len(sims):
        text += f", {len(sims)} simulated points"
    return text
