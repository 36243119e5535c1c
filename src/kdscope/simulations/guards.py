"""Size and sanity guards of a simulation, checked before anything is allocated.

A simulation at dimension d holds the training inputs of every learner once (n = alpha d rows of
d floats, twice with fresh student samples; scaling and float32 Hessians work on blocks of rows)
and at most :data:`SQUARE_MATRICES` (d + 1) x (d + 1) arrays (the inverse Hessian of each learner,
written over its Cholesky factor, and a float32 preconditioner while a learner trains).
:func:`estimate_bytes` adds these up, with :data:`DATA_COPIES` copies of the inputs (the inputs
plus room for the blocks), and :func:`check_size` refuses a run above :data:`MAX_SIM_BYTES`
(8 GiB, or the environment variable ``KDSCOPE_MAX_SIM_BYTES``) with one sentence naming ``d``
and its limit.
Seeds: at most :data:`MAX_SEEDS`, each an integer >= 0, no duplicates (a repeated seed is the
same sample twice, which would shrink the standard error without new information).
"""

from __future__ import annotations

import os
from numbers import Integral

__all__ = ["SimulationSizeError", "check_size", "estimate_bytes", "seed_list", "max_bytes", "MAX_SEEDS",
           "MAX_SIM_BYTES", "DATA_COPIES", "SQUARE_MATRICES"]

#: Default memory limit of one simulation (bytes); ``KDSCOPE_MAX_SIM_BYTES`` overrides it.
MAX_SIM_BYTES = 8 * 2 ** 30
#: Most seeds one simulation may average.
MAX_SEEDS = 1000
#: Copies of the input matrix counted by :func:`estimate_bytes`: the inputs, plus 1/8 for blocks of rows.
DATA_COPIES = 1.125
#: d x d float64 arrays counted at the peak (teacher's and student's inverse Hessians, plus margin for the
#: float32 preconditioner and the blocks of rows).
SQUARE_MATRICES = 3


class SimulationSizeError(ValueError):
    """A simulation's size or seeds are outside what it can run: too much memory, or bad seeds."""


def max_bytes() -> int:
    """The memory limit in force: ``KDSCOPE_MAX_SIM_BYTES`` when set (a positive integer), else MAX_SIM_BYTES."""
    text = os.environ.get("KDSCOPE_MAX_SIM_BYTES")
    if text:
        try:
            value = int(float(text))
        except ValueError:
            value = 0
        if value > 0:
            return value
    return MAX_SIM_BYTES


def estimate_bytes(setting, d: int) -> int:
    """Peak memory of one seed: 8 bytes x (DATA_COPIES x (n_t + fresh n_s) x d + SQUARE_MATRICES x (d + 1)^2).

    At alpha = 2 this is 2.6 x the bytes of the inputs; tracemalloc measures 2.25 at d = 4000 and 2.35 at d = 400
    (benchmarks/bench_simulations.py, tests/simulations/test_simulate.py).
    """
    n = setting.alpha * d
    if setting.alpha_s is not None and setting.generations > 0:
        n += setting.alpha_s * d
    return int(8 * (DATA_COPIES * n * d + SQUARE_MATRICES * (d + 1.0) ** 2))


def _fmt_bytes(b: float) -> str:
    return f"{b / 2 ** 30:.3g} GiB" if b >= 2 ** 30 else f"{b / 2 ** 20:.3g} MiB"


def check_size(setting, d, seeds=None) -> None:
    """Raise SimulationSizeError (one sentence naming the parameter and its range) when the run is too large."""
    if isinstance(d, bool) or not isinstance(d, Integral) or d < 2:
        raise SimulationSizeError(f"simulate: 'd' must be an integer >= 2; got {d!r}.")
    need, limit = estimate_bytes(setting, int(d)), max_bytes()
    if need > limit:
        d_max = _largest_d(setting, limit)
        raise SimulationSizeError(
            f"simulate: 'd'={d} needs about {_fmt_bytes(need)} at alpha={setting.alpha:g} (n = alpha d samples of d "
            f"floats), above the limit of {_fmt_bytes(limit)}; 'd' must be an integer in [2, {d_max}] here "
            f"(raise KDSCOPE_MAX_SIM_BYTES to allow more).")
    if seeds is not None:
        seed_list(seeds)


def _largest_d(setting, limit: int) -> int:
    lo, hi = 2, 2
    while estimate_bytes(setting, hi) <= limit:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if estimate_bytes(setting, mid) <= limit else (lo, mid)
    return lo


def seed_list(seeds) -> list[int]:
    """The seeds as a list: a count n gives 0 .. n-1; a list must hold distinct integers >= 0, at most MAX_SEEDS."""
    if isinstance(seeds, bool):
        raise SimulationSizeError(f"simulate: 'seeds' must be a positive integer or a list of ints; got {seeds!r}.")
    if isinstance(seeds, Integral):
        if not 1 <= seeds <= MAX_SEEDS:
            raise SimulationSizeError(f"simulate: 'seeds' must be an integer in [1, {MAX_SEEDS}] or a list of "
                                      f"distinct ints; got {seeds}.")
        return list(range(int(seeds)))
    try:
        out = list(seeds)
    except TypeError:
        raise SimulationSizeError(f"simulate: 'seeds' must be a positive integer or a list of ints; "
                                  f"got {seeds!r}.") from None
    if not out:
        raise SimulationSizeError("simulate: 'seeds' is an empty list; give at least one seed.")
    if not all(isinstance(x, Integral) and not isinstance(x, bool) and x >= 0 for x in out):
        raise SimulationSizeError(f"simulate: 'seeds' must hold integers >= 0; got {seeds!r}.")
    if len(out) > MAX_SEEDS:
        raise SimulationSizeError(f"simulate: 'seeds' holds {len(out)} seeds; at most {MAX_SEEDS} are allowed.")
    dup = sorted({int(x) for x in out if out.count(x) > 1})
    if dup:
        raise SimulationSizeError(f"simulate: 'seeds' must be distinct; {dup} repeated (a repeated seed is the same "
                                  f"sample twice and would understate the standard error).")
    return [int(x) for x in out]
