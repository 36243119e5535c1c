"""``kdscope figures phase``: phase diagrams of the student's gain (kdscope.phase).

    kdscope figures phase --quick --out DIR               # six 12 x 10 diagrams, minutes on 2 cores
    kdscope figures phase --only lam_t,theta --n-alpha 60 --n-y 40 --backend jax
    kdscope figures phase --executor dask --scheduler tcp://HOST:8786

Writes DIR/phase_<name>.parquet (the data), .png, .pdf and .json (caption) for name in lam_t, xi,
tau, theta, bayes (Bayes-optimal teacher) and fresh (teacher and student on different samples);
the points go through the store DIR/store, so a rerun costs nothing.  Every gain is
eps(student) - eps(reference), negative where distillation helps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kdscope.cli.options import DEBUG_OPTION, EXIT_INVALID, fail, out_dir_or_exit

try:  # registered under `kdscope figures` when that sub-app exists
    from kdscope.cli.figures_cmd import figures_app as _target
except ImportError:  # pragma: no cover - figures_cmd not available: a top-level command
    from kdscope.cli._app import app as _target


@_target.command("phase")
def phase(
    quick: Annotated[bool, typer.Option("--quick", help="12 x 10 grids: all six diagrams in minutes.")] = False,
    out: Annotated[Path, typer.Option("--out", help="Output folder (tables, figures, store/).")] = Path(
        "kdscope-out/phase"),
    only: Annotated[Optional[str], typer.Option("--only", help="Comma-separated diagrams: lam_t,xi,tau,theta,bayes,fresh.")] = None,
    n_alpha: Annotated[Optional[int], typer.Option("--n-alpha", help="Grid points along alpha.")] = None,
    n_y: Annotated[Optional[int], typer.Option("--n-y", help="Grid points along the other axis.")] = None,
    executor: Annotated[str, typer.Option("--executor", help="serial | processes | dask.")] = "processes",
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler address.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Worker processes (default: the cores).")] = None,
    backend: Annotated[str, typer.Option("--backend", help="numpy | jax | auto.")] = "auto",
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="tqdm progress bars.")] = True,
    debug: DEBUG_OPTION = False,
) -> None:
    """Heat maps of the student's gain (eps_student - eps_reference; negative: distillation helps).

    Over (alpha, lam_t | xi | tau | theta), (alpha, xi) with the Bayes-optimal teacher, and
    (alpha_S, alpha_T) for fresh-sample distillation; against the best ridge, the unregularised
    student and the teacher, each with its labelled zero contour and the thresholds.
    """
    import matplotlib

    matplotlib.use("Agg")
    from kdscope.executors import EXECUTORS
    from kdscope.phase import make_phase_figures
    from kdscope.sweep import BACKENDS

    if scheduler and executor == "processes":
        executor = "dask"
    if executor not in EXECUTORS:
        fail(f"'--executor' must be one of {{{', '.join(EXECUTORS)}}}; got {executor!r}.", EXIT_INVALID)
    if backend not in BACKENDS:
        fail(f"'--backend' must be one of {{{', '.join(BACKENDS)}}}; got {backend!r}.", EXIT_INVALID)
    for name, v in (("--n-alpha", n_alpha), ("--n-y", n_y), ("--workers", workers)):
        if v is not None and v < (1 if name == "--workers" else 2):
            fail(f"'{name}' must be an integer >= {1 if name == '--workers' else 2}; got {v}.", EXIT_INVALID)
    wanted = [w.strip() for w in only.split(",") if w.strip()] if only else None
    out_dir_or_exit(out, debug)  # --out must be a writable folder, checked before anything is computed
    try:
        paths = make_phase_figures(out, quick=quick, only=wanted, executor=executor, workers=workers,
                                   scheduler=scheduler, backend=backend, progress=progress, n_alpha=n_alpha,
                                   n_y=n_y, echo=typer.echo)
    except (ValueError, ImportError) as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    typer.echo(f"{len(paths) // 4} phase diagrams under {out}")
