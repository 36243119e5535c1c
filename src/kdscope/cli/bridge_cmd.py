"""``kdscope empirical bridge``: linear-probe distillation on real features vs the replica theory.

``kdscope empirical bridge [--config FILE] [--quick] [--out DIR] [--data digits|fashion-mnist]
[--classes 0,6] [--features pixels|cnn] [--d D] [--seeds S]`` fits the two-cluster
mixture to two classes, trains teacher and sparse student on subsamples, solves
the theory at the fitted parameters and writes, under OUT (default
``kdscope-out/empirical/bridge-<data>-<a>_<b>[-quick]``):

- ``bridge.parquet``: the tidy table (theory and measured rows, fitted parameters, settings, goodness of fit);
- ``bridge_per_seed.parquet``: the measured rows per seed;
- ``comparison.csv``: theory vs measured at the measured alphas;
- ``config.yaml``: the resolved configuration;  ``figure_bridge.png`` / ``.pdf``.

Without ``--config`` the defaults of ``BridgeConfig`` apply; ``--quick`` then uses
:data:`QUICK` (a small d, three alphas, four seeds: seconds).  Options given on the
command line override the file.

``kdscope empirical bridge-curves [CONFIG] [--quick]`` runs a deep-network experiment
with a grid over ``data.train_fraction`` (default ``experiments/bridge_curves.yaml``) and
draws student accuracy vs training fraction (``learning_curves.parquet``,
``figure_learning_curves.png``).  Both register on the ``empirical`` sub-app.
"""

from __future__ import annotations

from pathlib import Path

import typer

from kdscope.cli.empirical_cmd import empirical_app

DEFAULT_OUT = Path("kdscope-out") / "empirical"
DATA_NAMES = {"digits": "digits", "fashion-mnist": "fashion_mnist", "fashion_mnist": "fashion_mnist"}
QUICK = {"d": 16, "alphas": (1.0, 2.0, 4.0), "seeds": 4, "n_theory": 12, "cnn_epochs": 1, "cnn_width": 8}
"""Overrides of ``--quick`` without a config file."""


def _fail(message: str, debug: bool, exc: BaseException) -> None:
    if debug:
        raise exc
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _parse_classes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(c) for c in text.split(","))
    except ValueError:
        raise ValueError(f"'--classes' must be two comma-separated class labels such as 0,6; got {text!r}.") from None


@empirical_app.command("bridge")
def bridge(
    config: Path | None = typer.Option(None, "--config", help="Bridge experiment file, e.g. experiments/bridge.yaml."),
    quick: bool = typer.Option(False, "--quick", help="Small, fast run (the file's quick: block, or built-in)."),
    out: Path | None = typer.Option(None, "--out", help="Output folder."),
    data: str | None = typer.Option(None, "--data", help="digits | fashion-mnist."),
    classes: str | None = typer.Option(None, "--classes", help="Two class labels, e.g. 0,6 (y = +1 for the first)."),
    features: str | None = typer.Option(None, "--features", help="pixels | cnn."),
    d: int | None = typer.Option(None, "--d", help="Model dimension (principal components kept)."),
    seeds: int | None = typer.Option(None, "--seeds", help="Subsamples per alpha."),
    whiten: bool | None = typer.Option(None, "--whiten/--no-whiten", help="Whiten by the within-class covariance."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder with the data set's files."),
    threads: int = typer.Option(1, "--threads", min=1, help="torch CPU threads (CNN features only)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
) -> None:
    """Fit the Gaussian mixture to two classes, run the linear-probe distillation, compare with the theory."""
    import pandas as pd
    import yaml

    from kdscope.empirical.bridge import BridgeConfig, comparison, load_bridge, run_bridge
    from kdscope.empirical.data import DatasetNotFoundError
    from kdscope.empirical.registry import ConfigError

    try:
        cfg = load_bridge(config, quick=quick) if config is not None else BridgeConfig()
        changes: dict = {}
        if config is None and quick:
            changes.update(QUICK)
        if data is not None:
            if data not in DATA_NAMES:
                raise ConfigError(f"'--data' must be one of {{'digits', 'fashion-mnist'}}; got {data!r}.")
            changes["dataset"] = DATA_NAMES[data]
        if classes is not None:
            changes["classes"] = _parse_classes(classes)
        for name, value in (("features", features), ("d", d), ("seeds", seeds), ("whiten", whiten)):
            if value is not None:
                changes[name] = value
        cfg = cfg.replace(**changes) if changes else cfg
    except (ConfigError, ValueError) as exc:
        _fail(str(exc), debug, exc)
    import torch

    torch.set_num_threads(threads)
    a, b = cfg.classes
    name = f"bridge-{cfg.dataset}-{a}_{b}-{cfg.features}" + ("-quick" if quick else "")
    out_dir = out if out is not None else DEFAULT_OUT / name
    out_dir.mkdir(parents=True, exist_ok=True)
    typer.echo(f"bridge: {cfg.dataset} classes {a}/{b}, {cfg.features} features, d={cfg.d}, "
               f"alphas {list(cfg.alphas)}, {cfg.seeds} seeds -> {out_dir}")
    try:
        result = run_bridge(cfg, data_dir=data_dir, progress=progress)
    except (DatasetNotFoundError, ValueError) as exc:
        _fail(str(exc), debug, exc)
    (out_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    result.table.to_parquet(out_dir / "bridge.parquet", index=False)
    result.per_seed.to_parquet(out_dir / "bridge_per_seed.parquet", index=False)
    comp = comparison(result.table)
    comp.to_csv(out_dir / "comparison.csv", index=False)
    _save_figure(result.table, out_dir)
    mix, gof = result.mixture, result.gof
    typer.echo(f"fitted mixture: delta={mix.delta:.4g}, rho={mix.rho:.4g} (d={mix.d}, PCA keeps "
               f"{100 * mix.explained:.1f}% of the variance)")
    typer.echo("goodness of fit (model value): " + ", ".join(
        f"{k.removeprefix('gof_')}={gof[k]:.3g} ({gof[k + '_gauss']:.3g})" for k in ("gof_eig_cv", "gof_cov_asym"))
        + f", kurtosis={gof['gof_kurtosis']:.3g} (0 +- {gof['gof_kurtosis_se']:.2g}), oracle error "
        f"{gof['eps_oracle_measured']:.4f} ({gof['eps_oracle']:.4f})")
    cols = ["alpha", "eps_t_theory", "eps_t", "eps_t_se", "eps_s_theory", "eps_s", "eps_s_se"]
    with pd.option_context("display.width", 200):
        typer.echo(comp[cols].round(4).to_string(index=False))
    typer.echo(f"table: {out_dir / 'bridge.parquet'}   wall time: {result.seconds:.1f} s")


def _save_figure(table, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from kdscope.figures.bridge import plot_bridge
    from kdscope.figures.style import paper_style

    with paper_style():
        fig = plot_bridge(table)
        for ext in ("png", "pdf"):
            fig.savefig(out_dir / f"figure_bridge.{ext}")
    plt.close(fig)


@empirical_app.command("bridge-curves")
def bridge_curves(
    config: Path = typer.Argument(Path("experiments/bridge_curves.yaml"),
                                  help="Experiment with a grid over data.train_fraction."),
    quick: bool = typer.Option(False, "--quick", help="Apply the file's quick: block."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default kdscope-out/empirical/NAME[-quick])."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder with the data set's files."),
    threads: int = typer.Option(1, "--threads", min=1, help="torch CPU threads."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
) -> None:
    """Deep-net learning curves: student accuracy vs training fraction, alone / weight decay / KD."""
    import matplotlib.pyplot as plt
    import torch

    from kdscope.empirical.bridge import learning_curve_table
    from kdscope.empirical.config import load_experiment
    from kdscope.empirical.data import DatasetNotFoundError
    from kdscope.empirical.registry import ConfigError
    from kdscope.empirical.runner import run_experiment
    from kdscope.figures.bridge import plot_learning_curves
    from kdscope.figures.style import paper_style

    try:
        cfg = load_experiment(config, quick=quick)
        if "data.train_fraction" not in cfg.grid:
            raise ConfigError(f"{config.name}: bridge-curves needs a 'grid' over 'data.train_fraction'.")
    except ConfigError as exc:
        _fail(str(exc), debug, exc)
    torch.set_num_threads(threads)
    out_dir = out if out is not None else DEFAULT_OUT / (cfg.name + ("-quick" if quick else ""))
    try:
        result = run_experiment(cfg, out_dir, data_dir=data_dir, quick=quick, progress=progress, echo=typer.echo)
    except DatasetNotFoundError as exc:
        _fail(str(exc), debug, exc)
    table = learning_curve_table(result.summary, cfg)
    table.to_parquet(out_dir / "learning_curves.parquet", index=False)
    with paper_style():
        fig = plot_learning_curves(table, title=f"{cfg.name}: {cfg.data.dataset}, {len(cfg.seeds)} seeds")
        for ext in ("png", "pdf"):
            fig.savefig(out_dir / f"figure_learning_curves.{ext}")
    plt.close(fig)
    cols = ["learner", "train_fraction", "test_acc_best_mean", "test_acc_best_std"]
    typer.echo(table[cols].round(4).to_string(index=False))
    typer.echo(f"table: {out_dir / 'learning_curves.parquet'}   wall time: {result.seconds:.1f} s")
