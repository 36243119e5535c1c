"""Executors: map a function over tasks and yield each result as soon as it is done.

One interface, three back ends::

    with make_executor("processes", workers=2) as ex:
        for i, result in ex.map_unordered(fn, tasks):
            store(result)            # stored at once: an interrupted run keeps it

* ``serial``: in this process, in order (debugging, tiny sweeps).
* ``processes``: local worker processes (``concurrent.futures.ProcessPoolExecutor``,
  started with 'spawn' so that no thread state of the parent, e.g. JAX's, is forked).
  Each worker runs with one BLAS / OpenMP thread: the parallelism is across tasks.  (XLA_FLAGS
  are left alone: they enter JAX's compilation-cache key, and workers should reuse the parent's cache.)
  Workers exit when their parent dies (even by ``kill -9``): each watches its parent process.
  From a script, create this executor under ``if __name__ == "__main__":``: every 'spawn' worker
  imports the main script, and an unguarded call would start workers from the workers.
* ``dask``: a Dask distributed cluster.  Without an address a ``LocalCluster`` with ``workers``
  single-threaded worker processes is started (and closed at the end); with
  ``scheduler='tcp://HOST:PORT'`` tasks go to an existing scheduler.

HPC clusters (SLURM, PBS, SGE, LSF ...) through dask-jobqueue (``pip install dask-jobqueue``):
start the cluster in a separate Python session that stays alive, and point the sweep at it::

    from dask_jobqueue import SLURMCluster
    cluster = SLURMCluster(cores=1, processes=1, memory="2GB", walltime="02:00:00",
                           job_extra_directives=["--partition=short"])
    cluster.scale(jobs=50)                 # 50 batch jobs, one worker each
    print(cluster.scheduler_address)       # tcp://10.0.0.5:8786

    $ kdscope sweep experiments/sweeps/phase_lam_t.yaml --executor dask --scheduler tcp://10.0.0.5:8786

Results travel back to the submitting process, which writes the result store: the workers need
kdscope installed, not access to the store's folder.

A task that raises propagates its exception out of ``map_unordered`` (the sweep's task functions
catch per-point failures themselves and return them as records with a status).
"""

from __future__ import annotations

import abc
import os
from typing import Any, Callable, Iterable, Iterator

__all__ = ["AbstractExecutor", "SerialExecutor", "ProcessExecutor", "DaskExecutor", "make_executor", "EXECUTORS"]

#: Executor names accepted by :func:`make_executor` (and ``kdscope sweep --executor``).
EXECUTORS = ("serial", "processes", "dask")

#: Environment of worker processes: one thread each (parallelism is across tasks).
WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


#: Seconds between a worker's checks that its parent is alive.
PARENT_POLL_SECONDS = 0.5


def _init_worker(parent: int | None = None) -> None:
    """Worker start-up: one BLAS thread, and die with the parent (no orphans after a kill -9 of a sweep)."""
    for k, v in WORKER_ENV.items():
        os.environ.setdefault(k, v)
    if parent is not None:
        _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """Exit this process as soon as ``parent`` is gone (Linux: PR_SET_PDEATHSIG too; everywhere: a watchdog thread)."""
    import threading

    def watch() -> None:
        import time

        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(PARENT_POLL_SECONDS)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="kdscope-parent-watch", daemon=True).start()


def default_workers() -> int:
    """Number of CPU cores available to this process (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class AbstractExecutor(abc.ABC):
    """Maps a function over tasks, yielding ``(index, result)`` pairs in completion order."""

    name: str = "abstract"
    workers: int = 1

    @abc.abstractmethod
    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        """Run ``fn(task)`` for every task; yield ``(index of the task, result)`` as each completes."""

    def close(self) -> None:
        """Release workers (idempotent)."""

    def __enter__(self) -> "AbstractExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def describe(self) -> str:
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"


class SerialExecutor(AbstractExecutor):
    """Runs every task in this process, in order."""

    name = "serial"

    def map_unordered(self, fn, tasks):
        for i, task in enumerate(tasks):
            yield i, fn(task)


class ProcessExecutor(AbstractExecutor):
    """Local worker processes (``ProcessPoolExecutor``, 'spawn' start method).

    Parameters
    ----------
    workers : number of processes (default: the available cores).
    start_method : multiprocessing start method ('spawn' default; 'forkserver' or 'fork' also work
        when the parent holds no threads).
    """

    name = "processes"

    def __init__(self, workers: int | None = None, start_method: str = "spawn"):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = int(workers) if workers else default_workers()
        if self.workers < 1:
            raise ValueError(f"ProcessExecutor: 'workers' must be an integer >= 1; got {workers!r}.")
        ctx = multiprocessing.get_context(start_method)
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker,
                                         initargs=(os.getpid(),))

    def map_unordered(self, fn, tasks):
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        futures = {self._pool.submit(fn, task): i for i, task in enumerate(tasks)}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        except BrokenProcessPool as exc:
            raise RuntimeError(
                "executor 'processes': a worker process died before finishing its task. If this ran from a script, "
                "put the call under `if __name__ == \"__main__\":` (each 'spawn' worker imports the script) or use "
                "executor='serial'; otherwise a worker may have run out of memory.") from exc
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(AbstractExecutor):
    """A Dask distributed cluster: a new ``LocalCluster``, or an existing scheduler.

    Parameters
    ----------
    scheduler : address of a running scheduler ('tcp://HOST:PORT'); None starts a LocalCluster.
    workers : LocalCluster workers (default: the available cores); ignored with ``scheduler``.
    processes : LocalCluster workers are processes (True) or threads of this process (False,
        quick to start; for tests).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None, processes: bool = True):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("executor 'dask' needs dask.distributed: pip install 'kdscope[dask]'.") from exc
        self._cluster = None
        if scheduler:
            self._client = Client(scheduler)
            info = self._client.scheduler_info()
            self.workers = max(1, len(info.get("workers", {})))
            self.address = scheduler
        else:
            n = int(workers) if workers else default_workers()
            if n < 1:
                raise ValueError(f"DaskExecutor: 'workers' must be an integer >= 1; got {workers!r}.")
            env = dict(WORKER_ENV) if processes else None
            kwargs = dict(n_workers=n, threads_per_worker=1, processes=processes, dashboard_address=None)
            if env:
                kwargs["env"] = env
            self._cluster = LocalCluster(**kwargs)
            self._client = Client(self._cluster)
            self.workers = n
            self.address = self._cluster.scheduler_address

    def map_unordered(self, fn, tasks):
        from distributed import as_completed

        tasks = list(tasks)
        if not tasks:
            return
        futures = self._client.map(fn, tasks, pure=False)
        index = {fut.key: i for i, fut in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                result = fut.result()
                i = index[fut.key]
                fut.release()
                yield i, result
        finally:
            self._client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def describe(self) -> str:
        return f"dask at {self.address} ({self.workers} worker{'s' if self.workers != 1 else ''})"


def make_executor(kind: str = "processes", workers: int | None = None, scheduler: str | None = None,
                  **kwargs: Any) -> AbstractExecutor:
    """The executor called ``kind`` (one of :data:`EXECUTORS`).

    ``scheduler`` (a Dask address) implies ``kind='dask'``.  ``workers=1`` with 'processes'
    still uses one worker process (isolation); use 'serial' to stay in this process.
    """
    if scheduler and kind in (None, "processes"):
        kind = "dask"
    if kind not in EXECUTORS:
        raise ValueError(f"'executor' must be one of {{{', '.join(repr(e) for e in EXECUTORS)}}}; got {kind!r}.")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise ValueError(f"'workers' must be an integer >= 1; got {workers!r}.")
    if scheduler and kind != "dask":
        raise ValueError(f"'scheduler' is a Dask scheduler address, used with executor='dask'; got executor={kind!r}.")
    if kind == "serial":
        return SerialExecutor()
    if kind == "processes":
        return ProcessExecutor(workers, **kwargs)
    return DaskExecutor(scheduler=scheduler, workers=workers, **kwargs)
