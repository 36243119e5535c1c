"""The one path into the result store: run tasks for the points that are missing, store each as it finishes.

:func:`compute` takes any mix of :mod:`kdscope.tasks` (theory lines, optimal-hyperparameter
searches, simulations) and

1. reads every key already in the store (a repeated run computes nothing; a corrupt point file
   is moved aside by the store and counts as missing);
2. claims each missing key (:meth:`ResultStore.claim`): a key another live process is computing
   is left to it, so two runs on one store never compute the same point twice;
3. runs the tasks, restricted to the claimed keys, on an executor (:mod:`kdscope.executors`) and
   writes every record the moment its task returns (atomic; ``kill -9`` loses only running work);
4. waits for the keys other processes claimed, and computes those whose owner died.

Curves (:mod:`kdscope.curves`), sweeps (:mod:`kdscope.sweep`) and the CLI all come through here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

__all__ = ["compute", "Outcome"]

#: Seconds between two looks at points another process is computing.
POLL_SECONDS = 0.2


@dataclass
class Outcome:
    """What :func:`compute` did: every record by key, and the counts.

    records : key -> record (stored, fresh, or computed by another process), each with ``key``.
    errors : key -> record of a task that raised (status 'error: ...'; not stored, retried next run).
    cached : points found in the store (or computed meanwhile by another process).
    computed : points computed here.  failed : of those, not converged or errors.
    executor : description of the executor used ('none (nothing to compute)' when none started).
    """

    records: dict[str, dict] = field(default_factory=dict)
    errors: dict[str, dict] = field(default_factory=dict)
    cached: int = 0
    computed: int = 0
    failed: int = 0
    executor: str = "none (nothing to compute)"

    def get(self, key: str) -> dict | None:
        """The record of ``key`` (an error record when its task raised), or None."""
        return self.records.get(key, self.errors.get(key))


def compute(tasks: Iterable, store=None, *, executor: Any = "serial", workers: int | None = None,
            scheduler: str | None = None, progress: bool = False, desc: str = "points",
            on_record: Callable[[dict], None] | None = None) -> Outcome:
    """Bring the points of ``tasks`` into ``store`` (see the module docstring) and return them.

    Parameters
    ----------
    tasks : tasks of :mod:`kdscope.tasks` (any object with ``keys``, ``restrict(keys)``, ``run()``, ``weight``).
        A key that appears in several tasks is computed once, by the first.
    store : a :class:`~kdscope.store.ResultStore`, or None (compute everything, store nothing).
    executor : an executor or its name ('serial' (default), 'processes', 'dask'), with ``workers`` and
        ``scheduler`` as in :func:`kdscope.executors.make_executor`.  No executor starts when nothing is missing.
    progress : tqdm bar over the computed points.  on_record : called with each fresh record.
    """
    from kdscope import __version__

    _refuse_in_bootstrapping_worker()
    out = Outcome()
    seen: set[str] = set()
    todo, foreign = [], {}
    for task in tasks:
        missing = set()
        for key in task.keys:
            if key in seen:
                continue
            seen.add(key)
            rec = store.get(key) if store is not None else None
            if rec is not None:
                out.records[key] = rec
                out.cached += 1
            elif store is None or store.claim(key):
                missing.add(key)
            else:
                foreign[key] = task
        sub = task.restrict(missing) if missing else None
        if sub is not None:
            todo.append(sub)
    runner = _Runner(executor, workers, scheduler, progress, desc)
    try:
        while True:
            runner.run(todo, store, out, __version__, on_record)
            todo = _wait_for_others(foreign, store, out) if foreign else []
            if not todo:
                break
    finally:
        runner.close()
        if store is not None:
            store.release_all()
    out.executor = runner.description
    return out


def _refuse_in_bootstrapping_worker() -> None:
    """Fail at once in a 'spawn' worker that is importing the main script (an unguarded script's own call)."""
    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError("kdscope: a worker process started by executor='processes' is importing the main script, "
                           "which computes again: put the call under `if __name__ == \"__main__\":` or use "
                           "executor='serial'.")


def _wait_for_others(foreign: dict, store, out: Outcome) -> list:
    """Wait until every point claimed by another process is stored; return tasks for those whose owner died."""
    while foreign:
        reclaimed: dict[Any, set] = {}
        for key, task in list(foreign.items()):
            if store.has(key):
                rec = store.get(key)
                if rec is not None:
                    out.records[key] = rec
                    out.cached += 1
                    del foreign[key]
                    continue
            if not store.claimed_by_other(key) and store.claim(key):
                reclaimed.setdefault(id(task), (task, set()))[1].add(key)
                del foreign[key]
        if reclaimed:
            return [t for t in (task.restrict(keys) for task, keys in reclaimed.values()) if t is not None]
        time.sleep(POLL_SECONDS)
    return []


class _Runner:
    """Runs task lists on one executor, started at the first task and closed at the end."""

    def __init__(self, executor, workers, scheduler, progress, desc):
        self.spec, self.workers, self.scheduler = executor, workers, scheduler
        self.progress, self.desc = progress, desc
        self.ex = None
        self.own = False
        self.description = "none (nothing to compute)"

    def _executor(self):
        from kdscope.executors import AbstractExecutor, make_executor

        if self.ex is None:
            self.own = not isinstance(self.spec, AbstractExecutor)
            self.ex = (make_executor(self.spec or "serial", workers=self.workers, scheduler=self.scheduler)
                       if self.own else self.spec)
            self.description = self.ex.describe()
        return self.ex

    def run(self, tasks: list, store, out: Outcome, version: str, on_record) -> None:
        from kdscope.tasks import run_task

        if not tasks:
            return
        tasks = sorted(tasks, key=lambda t: -t.weight)
        bar = _bar(sum(len(t.keys) for t in tasks), self.desc, self.progress)
        try:
            for _, records in self._executor().map_unordered(run_task, tasks):
                for rec in records:
                    key = rec.pop("key")
                    if rec.pop("_error", False):
                        out.errors[key] = dict(rec, key=key)
                        out.failed += 1
                    else:
                        if store is not None:
                            store.put(rec, key, kind=rec.get("kind"))
                        out.records[key] = dict(rec, key=key, kdscope_version=version)
                        out.failed += 0 if rec.get("converged", True) else 1
                        if on_record is not None:
                            on_record(out.records[key])
                    if store is not None:
                        store.release(key)
                    out.computed += 1
                bar.update(len(records))
        finally:
            bar.close()

    def close(self) -> None:
        if self.ex is not None and self.own:
            self.ex.close()


def _bar(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="pt", disable=not progress, leave=False)
