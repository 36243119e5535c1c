"""``kdscope empirical analyze RUN_DIR [--quick] [--out DIR]``: per-layer embedding analysis of a run.

Reads every trained learner of a run folder written by ``kdscope empirical run``,
computes per-layer compactness metrics, CKA to the teacher, 2-D maps and the
penultimate template projection (:func:`kdscope.empirical.analysis.analyze_run`),
writes the tables as Parquet and draws the figures (PNG and PDF) into ``--out``
(default ``RUN_DIR/analysis``).  Registers itself on :data:`empirical_app`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from kdscope.cli.empirical_cmd import empirical_app

MAP_CHOICES = ("preset", "tsne", "ivis", "umap", "none")


def _fail(message: str, debug: bool, exc: BaseException) -> None:
    if debug:
        raise exc
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _save(fig, stem: Path, written: list[Path]) -> None:
    for ext in ("png", "pdf"):
        path = stem.with_suffix(f".{ext}")
        fig.savefig(path, dpi=150, bbox_inches="tight")
        written.append(path)


def draw_figures(result, out_dir: Path) -> list[Path]:
    """Draw every analysis figure of ``result`` (a LayerAnalysis) into ``out_dir``; returns the files."""
    from kdscope.figures.embeddings import (
        plot_cka_heatmaps,
        plot_embedding_grid,
        plot_metric_curves,
        plot_template_projection,
    )

    written: list[Path] = []
    m = result.metrics
    conditions = list(dict.fromkeys(m["condition"])) if "condition" in m.columns else [None]

    def part(table, cond):
        if table is None or cond is None or "condition" not in table.columns:
            return table
        return table[table["condition"] == cond]

    for cond in conditions:
        suffix = "" if cond is None or len(conditions) == 1 else f"_{cond}"
        _save(plot_metric_curves(part(m, cond)), out_dir / f"figure_metrics_vs_depth{suffix}", written)
        cka = part(result.cka, cond)
        if cka is not None and len(cka):
            for kind in dict.fromkeys(cka["kind"]):
                _save(plot_cka_heatmaps(cka, kind=kind), out_dir / f"figure_cka_{kind}{suffix}", written)
        emb = part(result.embeddings, cond)
        if emb is not None and len(emb):
            _save(plot_embedding_grid(emb), out_dir / f"figure_maps{suffix}", written)
        tmpl = part(result.templates, cond)
        if tmpl is not None and len(tmpl):
            _save(plot_template_projection(tmpl), out_dir / f"figure_templates{suffix}", written)
    return written


@empirical_app.command("analyze")
def analyze(
    run_dir: Path = typer.Argument(..., help="Run folder written by `kdscope empirical run`."),
    quick: bool = typer.Option(False, "--quick", help="500 samples, 3 metrics, linear CKA, short IVIS maps."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default RUN_DIR/analysis)."),
    maps: str = typer.Option("preset", "--maps", help=f"2-D map method, one of {list(MAP_CHOICES)}."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the analysis subset, CV splits and maps."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="torch CPU threads (default: torch's)."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Draw the figures."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
) -> None:
    """Per-layer compactness, CKA to the teacher and 2-D maps of every learner of a run."""
    if maps not in MAP_CHOICES:
        _fail(f"'--maps' must be one of {set(MAP_CHOICES)}; got {maps!r}.", debug, ValueError(maps))
    import matplotlib

    matplotlib.use("Agg")
    import torch

    from kdscope.empirical.analysis import analyze_run

    if threads is not None:
        torch.set_num_threads(threads)
    out_dir = out if out is not None else run_dir / "analysis"
    method = None if maps == "none" else maps
    try:
        result = analyze_run(run_dir, quick=quick, seed=seed, embed_method=method, progress=typer.echo)
    except (FileNotFoundError, KeyError) as exc:
        _fail(str(exc).strip("'\""), debug, exc)
    except ImportError as exc:
        _fail(str(exc), debug, exc)
    paths = result.save(out_dir)
    from kdscope.empirical.analysis.paired import format_layer_differences, paired_layer_differences

    diffs = paired_layer_differences(result.metrics)
    if len(diffs):
        diffs.to_parquet(out_dir / "layer_differences.parquet", index=False)
        diffs.to_csv(out_dir / "layer_differences.csv", index=False)
        paths["layer_differences"] = out_dir / "layer_differences.parquet"
    written = draw_figures(result, out_dir) if figures else []
    last = result.metrics[result.metrics["rel_depth"] == result.metrics["rel_depth"].max()]
    summary = last.groupby(["model", "metric"], sort=False)["value"].mean().unstack()
    typer.echo("\nlast inspected layer, mean over seeds:")
    typer.echo(summary.to_string(float_format=lambda v: f"{v:.4f}"))
    typer.echo("")
    typer.echo(format_layer_differences(diffs))
    typer.echo("")
    for p in [*paths.values(), *written]:
        typer.echo(f"wrote {p}")
