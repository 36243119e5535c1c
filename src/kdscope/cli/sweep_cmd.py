"""``kdscope sweep``: run a sweep file (grid or list of Settings) through the result store.

    kdscope sweep experiments/sweeps/phase_lam_t.yaml
    kdscope sweep CONFIG.yaml --executor serial
    kdscope sweep CONFIG.yaml --executor dask --workers 4            # a Dask LocalCluster
    kdscope sweep CONFIG.yaml --executor dask --scheduler tcp://HOST:8786
    kdscope sweep CONFIG.yaml --backend jax --out DIR

The YAML format is documented in :mod:`kdscope.sweep`.  Points go to the store ``DIR/store``
(default ``DIR = kdscope-out/sweeps/<name>``, or the file's ``store`` key), so a repeated sweep
costs nothing and an interrupted one resumes with the missing points only.  The tidy table is
written to ``DIR/<name>.parquet``; the last line summarises cached and computed points.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kdscope.cli._app import app
from kdscope.cli.options import DEBUG_OPTION, EXIT_INVALID, fail


@app.command("sweep")
def sweep_command(
    config: Annotated[Path, typer.Argument(help="Sweep file (YAML; see kdscope.sweep).")],
    executor: Annotated[str, typer.Option("--executor", help="serial | processes | dask.")] = "processes",
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler address tcp://HOST:PORT "
                                                     "(implies --executor dask).")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Worker processes (default: the cores).")] = None,
    backend: Annotated[Optional[str], typer.Option("--backend", help="numpy | jax | auto (default: the file's).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder (store/ and the table).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="tqdm progress bar.")] = True,
    debug: DEBUG_OPTION = False,
) -> None:
    """Compute every point of a sweep file that is not in the store yet, and write the table."""
    from kdscope.executors import EXECUTORS
    from kdscope.guards import writable_dir
    from kdscope.store import ResultStore
    from kdscope.store import write_table
    from kdscope.sweep import BACKENDS, SweepConfigError, describe, load_sweep, sweep

    if scheduler and executor == "processes":
        executor = "dask"
    if executor not in EXECUTORS:
        fail(f"'--executor' must be one of {{{', '.join(EXECUTORS)}}}; got {executor!r}.", EXIT_INVALID)
    if scheduler and executor != "dask":
        fail(f"'--scheduler' is a Dask scheduler address; it needs --executor dask (got {executor!r}).", EXIT_INVALID)
    if workers is not None and workers < 1:
        fail(f"'--workers' must be an integer >= 1; got {workers}.", EXIT_INVALID)
    if backend is not None and backend not in BACKENDS:
        fail(f"'--backend' must be one of {{{', '.join(BACKENDS)}}}; got {backend!r}.", EXIT_INVALID)
    try:
        spec = load_sweep(config)
    except SweepConfigError as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    folder = out or (Path(spec.store).parent if spec.store else Path("kdscope-out") / "sweeps" / spec.name)
    try:  # both folders accept files, checked before any computation
        writable_dir(folder, "--out")
        store = ResultStore(writable_dir(Path(spec.store) if (spec.store and out is None) else folder / "store",
                                         "store"))
    except ValueError as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    try:
        df = sweep(spec, store=store, executor=executor, workers=workers, scheduler=scheduler, backend=backend,
                   progress=progress)
    except (ValueError, ImportError) as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / f"{spec.name}.parquet"
    write_table(df, table)
    theory = df[df["kind"] == "theory"] if "kind" in df.columns else df
    if len(theory):
        n_ok = int((theory["converged"] == True).sum())  # noqa: E712 (NaN for missing points)
        typer.echo(f"{n_ok}/{len(theory)} theory points converged")
    typer.echo(describe(df) + f" -> {table}")
