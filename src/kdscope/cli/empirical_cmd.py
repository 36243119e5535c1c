"""``kdscope empirical ...``: deep-network distillation experiments.

``kdscope empirical run experiments/NAME.yaml [--quick] [--out DIR] [--data-dir DIR] [--device D]``
parses the experiment file, trains every learner (resuming a partial run folder),
writes the summary table and, when the experiment asks for one, its figure.
A file with ``protocol: limited_labels`` runs the limited-label protocol
(:mod:`kdscope.empirical.limited_labels`): a teacher from the teacher store
(``--teacher-store``), students on label budgets, ``summary.csv`` with 95% CIs and
paired differences to the student alone, and the accuracy-vs-budget figure.

Exit codes: 0 done; 2 invalid input (config, missing data, unavailable device),
printed as one line; 3 training diverged (NaN or infinite loss; the line names the
learner and the epoch).
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


def _fail(message: str, debug: bool, exc: BaseException, code: int = 2) -> None:
    if debug:
        raise exc
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


def _run_limited(cfg, out_dir: Path, *, data_dir, device, quick, progress, teacher_store, debug) -> None:
    from kdscope.empirical.data import DatasetNotFoundError
    from kdscope.empirical.limited_labels import format_limited_summary, run_limited_labels
    from kdscope.empirical.teacher_store import DEFAULT_ROOT
    from kdscope.empirical.train import TrainingDivergedError

    typer.echo(f"limited-label experiment {cfg.name}{' (quick)' if quick else ''}: budgets {list(cfg.budgets)} "
               f"per class, {len(cfg.learners)} learners, seeds {list(cfg.seeds)}, {cfg.schedule.steps} steps each, "
               f"device {device} -> {out_dir}")
    try:
        result = run_limited_labels(cfg, out_dir, data_dir=data_dir, device=device, quick=quick, progress=progress,
                                    teacher_root=teacher_store if teacher_store is not None else DEFAULT_ROOT,
                                    echo=typer.echo)
    except (DatasetNotFoundError, ValueError) as exc:
        _fail(str(exc), debug, exc)
    except TrainingDivergedError as exc:
        _fail(str(exc), debug, exc, code=3)
    typer.echo("")
    typer.echo(format_limited_summary(result.summary, reference=cfg.reference, teacher_acc=result.teacher_acc))
    _save_budget_figure(result, cfg, out_dir)
    if result.theory_practice is not None:
        _theory_practice(result, cfg, out_dir)
    typer.echo(f"\nsummary: {out_dir / 'summary.csv'}   wall time: {result.seconds:.1f} s")


def _theory_practice(result, cfg, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from kdscope.empirical.limited_labels.theory import format_theory_practice
    from kdscope.figures.theory_practice import plot_theory_practice
    from kdscope.store import write_figure

    table = result.theory_practice
    th = table[table["kind"] == "theory"]
    typer.echo("\ntheory vs practice (errors = 1 - accuracy; gain = eps - eps_alone, negative: distillation helps):")
    typer.echo(format_theory_practice(table, reference=cfg.reference))
    bad = th[th["status"] != "converged"]
    if not bad.empty:
        typer.echo(f"theory: {len(bad)} of {len(th)} points did not converge (left out of the curves).")
    r = th.iloc[0]
    classes = "/".join(str(c) for c in cfg.classes)
    caption = (f"{cfg.dataset} classes {classes}: CNN student (width {cfg.student.width}, depth {cfg.student.depth}), "
               f"{cfg.schedule.steps} steps per budget, {int(result.summary['n_seeds'].max())} seeds, error bars 95% t "
               f"intervals (gain: paired over seeds). Theory: fresh-sample distillation on the mixture fitted to the "
               f"pool pixels (d = {int(r['d'])} PCA components{', whitened' if cfg.theory.whiten else ''}; "
               f"delta = {r['delta']:.3g}, rho = {r['rho']:.3f}), logistic teacher on alpha_T = {r['alpha_t']:.4g}, "
               f"lam_T = {r['lam_t']:g}, students lam_S = {r['lam_s']:g}, eta = {r['eta']:g}; alpha_S = n_S / d.")
    fig = plot_theory_practice(table, reference=cfg.reference, caption=caption)
    write_figure(fig, out_dir / "figure_theory_practice")
    plt.close(fig)
    typer.echo(f"figure: {out_dir / 'figure_theory_practice.png'}; table: {out_dir / 'theory_practice.csv'}")


def _save_budget_figure(result, cfg, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from kdscope.figures.limited_labels import plot_accuracy_vs_budget
    from kdscope.store import write_figure

    seeds = int(result.summary["n_seeds"].max())
    caption = (f"{cfg.dataset}: student {cfg.student.arch}(width {cfg.student.width}, depth {cfg.student.depth}), "
               f"{cfg.schedule.steps} steps at every budget; teacher {cfg.teacher.model.arch}"
               f"(width {cfg.teacher.model.width}, depth {cfg.teacher.model.depth}) trained on the whole pool, "
               f"test accuracy {result.teacher_acc:.3f}; {seeds} seeds, error bars 95% t intervals "
               "(right: paired over seeds).")
    fig = plot_accuracy_vs_budget(result.summary, reference=cfg.reference, teacher_acc=result.teacher_acc,
                                  caption=caption)
    write_figure(fig, out_dir / "figure_accuracy_vs_budget")
    plt.close(fig)
    typer.echo(f"figure: {out_dir / 'figure_accuracy_vs_budget.png'}")


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
    device: str = typer.Option("cpu", "--device", help="auto, cpu, cuda or mps (auto: a GPU if present, else cpu)."),
    teacher_store: Path | None = typer.Option(
        None, "--teacher-store", help="Folder of stored teachers (pretrained teachers; default kdscope-out/teachers)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
) -> None:
    """Run an experiment: teacher(s), students, multi-seed summary table and figure."""
    import torch
    import yaml

    from kdscope.empirical.config import parse_experiment
    from kdscope.empirical.data import DatasetNotFoundError
    from kdscope.empirical.devices import DeviceError, resolve_device
    from kdscope.empirical.limited_labels.config import is_limited_labels, parse_limited_labels
    from kdscope.empirical.registry import ConfigError
    from kdscope.empirical.runner import format_summary, run_experiment
    from kdscope.empirical.train import TrainingDivergedError

    try:
        if not config.is_file():
            raise ConfigError(f"experiment file {str(config)!r} does not exist.")
        raw = yaml.safe_load(config.read_text())
        if is_limited_labels(raw):
            cfg = parse_limited_labels(raw, quick=quick, source=config.name)
        else:
            cfg = parse_experiment(raw, quick=quick, source=config.name)
        torch_device = resolve_device(device)
    except (ConfigError, DeviceError, yaml.YAMLError) as exc:
        _fail(str(exc), debug, exc)
    torch.set_num_threads(threads)
    out_dir = out if out is not None else DEFAULT_OUT / (cfg.name + ("-quick" if quick else ""))
    if is_limited_labels(raw):
        _run_limited(cfg, out_dir, data_dir=data_dir, device=torch_device, quick=quick, progress=progress,
                     teacher_store=teacher_store, debug=debug)
        return
    typer.echo(f"experiment {cfg.name}{' (quick)' if quick else ''}: seeds {list(cfg.seeds)}, "
               f"{len(cfg.conditions())} condition(s), {1 + len(cfg.students)} learners each -> {out_dir}")
    try:
        result = run_experiment(cfg, out_dir, data_dir=data_dir, quick=quick, progress=progress, echo=typer.echo,
                                device=torch_device, teacher_root=teacher_store)
    except DatasetNotFoundError as exc:
        _fail(str(exc), debug, exc)
    except TrainingDivergedError as exc:
        _fail(str(exc), debug, exc, code=3)
    typer.echo("")
    typer.echo(format_summary(result.summary))
    if cfg.figure == "accuracy_vs_tau":
        _save_tau_figure(result.summary, out_dir)
    elif cfg.figure == "path_weights":
        _save_weights_figure(result.logs, cfg, out_dir)
    typer.echo(f"\nsummary: {out_dir / 'summary.csv'}   wall time: {result.seconds:.1f} s")


def _save_tau_figure(summary, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from kdscope.figures.empirical import plot_accuracy_vs_tau, plot_gain_vs_tau
    from kdscope.figures.style import paper_style
    from kdscope.store import write_figure

    conditions = list(dict.fromkeys(summary["condition"]))
    seeds = int(summary["n_seeds"].max())
    for cond in conditions:
        with paper_style(figure__figsize=(10.0, 3.6)):
            fig, (ax_acc, ax_gain) = plt.subplots(1, 2, layout="constrained")
            plot_accuracy_vs_tau(summary, condition=cond, ax=ax_acc)
            plot_gain_vs_tau(summary, condition=cond, ax=ax_gain)
            fig.text(0.01, -0.03, f"{seeds} seeds. Left: mean, bars and bands one standard deviation over seeds. "
                     "Right: paired difference to the student alone (same split and initialisation), 95% t "
                     "interval.", fontsize=7, ha="left", va="top")
        stem = "figure_accuracy_vs_tau" + ("" if len(conditions) == 1 else f"_{cond}")
        write_figure(fig, out_dir / stem)
        plt.close(fig)
        typer.echo(f"figure: {out_dir / (stem + '.png')}")


def _save_weights_figure(logs, cfg, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from kdscope.figures.aggregation import plot_path_weights
    from kdscope.store import write_figure

    conditions = list(dict.fromkeys(logs["condition"]))
    seeds = logs["seed"].nunique()
    for cond in conditions:
        caption = (f"{cfg.name}, condition {cond}: weight of each distillation path per epoch ({seeds} seeds; "
                   "uncertainty weighting: exp(-s) of the learned log-variance s; GradNorm: its learned weights).")
        try:
            fig = plot_path_weights(logs, condition=cond, caption=caption)
        except ValueError as exc:
            typer.echo(f"no path-weight figure: {exc}")
            return
        stem = "figure_path_weights" + ("" if len(conditions) == 1 else f"_{cond}")
        write_figure(fig, out_dir / stem)
        plt.close(fig)
        typer.echo(f"figure: {out_dir / (stem + '.png')}")
