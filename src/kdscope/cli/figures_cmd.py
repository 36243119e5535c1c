"""``kdscope figures paper | list`` and ``kdscope demo``.

    kdscope figures paper [--quick] [--out DIR] [--with-sims] [--only fig01,fig05]
    kdscope figures list
    kdscope figures readme [--docs docs]            # the README's two images, full resolution
    kdscope figures gallery [--paper DIR] [--phase DIR] [--docs docs]
    kdscope demo [--out DIR]

Each figure is a recipe (:mod:`kdscope.recipes`): its points go through the
result store ``DIR/store``, so a rerun costs nothing; the table (Parquet, with
every Setting field) and the figure (PNG and PDF) go to ``DIR/<name>.*``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kdscope.cli._app import app
from kdscope.cli.options import DEBUG_OPTION, EXIT_INVALID, fail, out_dir_or_exit

figures_app = typer.Typer(help="Figures of the reference paper and beyond (recipes through the result store).",
                          no_args_is_help=True)
app.add_typer(figures_app, name="figures")


@figures_app.command("list")
def list_figures() -> None:
    """List the figure recipes."""
    from kdscope.recipes import paper_recipes

    for r in paper_recipes(quick=True):
        typer.echo(f"{r.name:<10} {r.title}")


@figures_app.command("paper")
def paper(
    quick: Annotated[bool, typer.Option("--quick", help="Coarse grids: all figures in a few minutes.")] = False,
    out: Annotated[Path, typer.Option("--out", help="Output folder (tables, figures, store/).")] = Path(
        "kdscope-out/paper"),
    with_sims: Annotated[bool, typer.Option("--with-sims", help="Add simulation markers.")] = False,
    sim_d: Annotated[int, typer.Option("--sim-d", help="Simulation dimension d.")] = 1000,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per simulated point.")] = 5,
    sim_points: Annotated[int, typer.Option("--sim-points", help="Simulated points per curve.")] = 5,
    only: Annotated[Optional[str], typer.Option("--only", help="Comma-separated recipe names (see `figures list`).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="tqdm progress bars.")] = True,
    debug: DEBUG_OPTION = False,
) -> None:
    """Compute and draw the reference paper's Figs. 1-12 (and the extensions)."""
    import time

    import matplotlib

    matplotlib.use("Agg")
    from kdscope.recipes import make_figure, paper_recipes
    from kdscope.store import ResultStore

    recipes = paper_recipes(quick=quick)
    if only:
        wanted = [w.strip() for w in only.split(",") if w.strip()]
        known = [r.name for r in recipes]
        unknown = [w for w in wanted if w not in known]
        if unknown:
            fail(f"'--only' names unknown recipe(s) {unknown}; known: {', '.join(known)}.", EXIT_INVALID)
        recipes = [r for r in recipes if r.name in wanted]
    out_dir_or_exit(out)  # --out must be a writable folder, checked before anything is computed
    store = ResultStore(out / "store")
    t0 = time.perf_counter()
    for r in recipes:
        t1 = time.perf_counter()
        typer.echo(f"== {r.name}: {r.title}")
        df, paths = make_figure(r, store, out, with_sims=with_sims, sim_d=sim_d, sim_seeds=seeds,
                                sim_points=sim_points, progress=progress,
                                echo=None if progress else typer.echo)
        theory = df[df["kind"].astype(str).str.startswith("theory")]
        typer.echo(f"   {int(theory['converged'].astype(bool).sum())}/{len(theory)} theory points converged "
                   f"in {time.perf_counter() - t1:.1f} s -> {', '.join(str(p) for p in paths[1:])}")
    typer.echo(f"{len(recipes)} figures in {time.perf_counter() - t0:.0f} s under {out}")


@figures_app.command("readme")
def readme(
    docs: Annotated[Path, typer.Option("--docs", help="Where the PNG files go (the README's images).")] = Path("docs"),
    out: Annotated[Path, typer.Option("--out", help="Tables, captions and store/.")] = Path("kdscope-out/readme"),
    quick: Annotated[bool, typer.Option("--quick", help="Quick grids (for a look; the README uses full).")] = False,
    sim_d: Annotated[int, typer.Option("--sim-d", help="Simulation dimension d of kd_curve.")] = 500,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per simulated point.")] = 3,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="tqdm progress bars.")] = True,
) -> None:
    """Regenerate the README's images: DOCS/kd_curve.png (with simulations) and DOCS/double_descent.png."""
    import shutil

    import matplotlib

    matplotlib.use("Agg")
    from kdscope.recipes import make_figure, readme_recipes
    from kdscope.store import ResultStore

    out_dir_or_exit(out)
    out_dir_or_exit(docs, name="--docs")
    store = ResultStore(out / "store")
    for r in readme_recipes(quick):
        sims = r.name == "kd_curve"
        df, paths = make_figure(r, store, out, formats=("png", "pdf"), with_sims=sims, sim_d=sim_d, sim_seeds=seeds,
                                sim_points=7, progress=progress, echo=None if progress else typer.echo)
        shutil.copyfile(out / f"{r.name}.png", docs / f"{r.name}.png")
        typer.echo(f"{r.name}: {len(df)} rows -> {docs / (r.name + '.png')} (caption {out / (r.name + '.json')})")


@figures_app.command("gallery")
def gallery(
    paper_dir: Annotated[Path, typer.Option("--paper", help="Output folder of `figures paper`.")] = Path(
        "kdscope-out/paper"),
    phase_dir: Annotated[Path, typer.Option("--phase", help="Output folder of `figures phase`.")] = Path(
        "kdscope-out/phase"),
    docs: Annotated[Path, typer.Option("--docs", help="Writes DOCS/gallery.md and DOCS/gallery/*.png.")] = Path("docs"),
    width: Annotated[int, typer.Option("--width", help="Width in pixels of the gallery copies.")] = 1100,
) -> None:
    """Write the gallery page from the figures, captions (JSON sidecars) and one-line summaries."""
    from kdscope.gallery import write_gallery

    path = write_gallery(paper_dir, phase_dir, docs, width=width)
    typer.echo(f"gallery -> {path}")


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("kdscope-out"),
    sim_d: Annotated[int, typer.Option("--sim-d", help="Simulation dimension d.")] = 500,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per simulated point.")] = 3,
    paper_figs: Annotated[bool, typer.Option("--paper/--no-paper", help="Also the paper figures (quick).")] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="tqdm progress bars.")] = True,
) -> None:
    """Learning curves with simulations, the optimal-ridge curve and the paper figures (quick) into --out."""
    import matplotlib

    matplotlib.use("Agg")
    from kdscope.demo import run_demo

    out_dir_or_exit(out)
    run_demo(out, sim_d=sim_d, seeds=seeds, paper=paper_figs, progress=progress, echo=typer.echo)
