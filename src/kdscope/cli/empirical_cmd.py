"""``kdscope empirical ...``: deep-network distillation experiments.

``kdscope empirical run experiments/NAME.yaml [--quick] [--out DIR] [--data-dir DIR]``
parses the experiment file, trains every learner (resuming a partial run folder),
writes the summary table and, when the experiment asks for one, its figure.
The sub-app object is :data:`empirical_app`; other command modules may add commands to it.
"""

from __future__ import annotations

from pathlib import Path

import typer

from kdscope.cli._app import app

empirical_app = typer.Typer(
    help="Deep-network distillation experiments (PyTorch, CPU, offline data).", no_args_is_help=True
)
app.add_typer(empirical_app, name="empirical")

DEFAULT_OUT = Path("kdscope-out") / "empirical"


def _fail(message: str, debug: bool, exc: BaseException) -> None:
    if debug:
        raise exc
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@empirical_app.command("run")
def run(
    config: Path = typer.Argument(..., help="Experiment file, e.g. experiments/kl_vs_mse.yaml."),
    quick: bool = typer.Option(False, "--quick", help="Apply the file's quick: override block (small, fast run)."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default kdscope-out/empirical/NAME[-quick])."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder with the data set's files."),
    threads: int = typer.Option(
        1, "--threads", min=1,
        help="torch CPU threads. 1 by default: on a shared small machine extra OpenMP threads slow training ~10x.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show tqdm progress bars."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
) -> None:
    """Run an experiment: teacher(s), students, multi-seed summary table and figure."""
    import torch

    from kdscope.empirical.config import load_experiment
    from kdscope.empirical.data import DatasetNotFoundError
    from kdscope.empirical.registry import ConfigError
    from kdscope.empirical.runner import format_summary, run_experiment

    try:
        cfg = load_experiment(config, quick=quick)
    except ConfigError as exc:
        _fail(str(exc), debug, exc)
    torch.set_num_threads(threads)
    out_dir = out if out is not None else DEFAULT_OUT / (cfg.name + ("-quick" if quick else ""))
    typer.echo(f"experiment {cfg.name}{' (quick)' if quick else ''}: seeds {list(cfg.seeds)}, "
               f"{len(cfg.conditions())} condition(s), {1 + len(cfg.students)} learners each -> {out_dir}")
    try:
        result = run_experiment(cfg, out_dir, data_dir=data_dir, quick=quick, progress=progress, echo=typer.echo)
    except DatasetNotFoundError as exc:
        _fail(str(exc), debug, exc)
    typer.echo("")
    typer.echo(format_summary(result.summary))
    if cfg.figure == "accuracy_vs_tau":
        _save_tau_figure(result.summary, out_dir)
    typer.echo(f"\nsummary: {out_dir / 'summary.csv'}   wall time: {result.seconds:.1f} s")


def _save_tau_figure(summary, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from kdscope.figures.empirical import plot_accuracy_vs_tau

    conditions = list(dict.fromkeys(summary["condition"]))
    for cond in conditions:
        fig = plot_accuracy_vs_tau(summary, condition=cond)
        stem = "figure_accuracy_vs_tau" + ("" if len(conditions) == 1 else f"_{cond}")
        for ext in ("png", "pdf"):
            fig.savefig(out_dir / f"{stem}.{ext}", dpi=150)
        plt.close(fig)
        typer.echo(f"figure: {out_dir / (stem + '.png')}")
