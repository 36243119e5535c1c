"""Statistics over seeds: means with 95% confidence intervals and paired differences.

A seed fixes everything random in one run: the labelled subset, the initialisation
and the batch order.  Two learners trained with the same seed therefore differ only
in their objective, and their accuracies are *paired*: the difference per seed,
``d_s = acc_learner(s) - acc_reference(s)``, removes the seed-to-seed variation the
two share.  Its mean and confidence interval say whether the learners can be told
apart at this number of seeds; a CI that contains 0 means they cannot.

Intervals are Student-t intervals by default (exact for normal per-seed values,
``mean +- t_{n-1, 0.975} * sd / sqrt(n)``), or percentile bootstrap intervals over
seeds (``method="bootstrap"``, seeded, for skewed distributions with many seeds).
With a single seed an interval is undefined and reported as NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
METHODS = ("t", "bootstrap")


@dataclass(frozen=True)
class Interval95:
    """A mean with its confidence interval: ``mean``, ``low``, ``high``, ``n`` values, ``sd`` (ddof=1)."""

    mean: float
    low: float
    high: float
    n: int
    sd: float

    @property
    def contains_zero(self) -> bool:
        """True when the interval covers 0 (or is undefined): no sign can be claimed."""
        return not (self.low > 0 or self.high < 0)


def mean_ci(values, *, level: float = LEVEL, method: str = "t", n_boot: int = 10_000, seed: int = 0) -> Interval95:
    """Mean of ``values`` (1-D, NaNs dropped) with its two-sided ``level`` confidence interval.

    Parameters
    ----------
    values : array-like of float
    level : float in (0, 1)
    method : "t" (Student-t, n - 1 degrees of freedom) or "bootstrap" (percentile
        interval of ``n_boot`` resampled means, ``numpy.random.default_rng(seed)``).

    Returns
    -------
    Interval95
        ``low``/``high`` are NaN when fewer than two values remain.
    """
    if method not in METHODS:
        raise ValueError(f"'method' must be one of {set(METHODS)}; got {method!r}.")
    if not 0 < level < 1:
        raise ValueError(f"'level' must be a float in the open interval (0, 1); got {level!r}.")
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return Interval95(np.nan, np.nan, np.nan, 0, np.nan)
    mean = float(x.mean())
    if n < 2:
        return Interval95(mean, np.nan, np.nan, 1, np.nan)
    sd = float(x.std(ddof=1))
    if method == "t":
        from scipy import stats

        half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / np.sqrt(n)
        return Interval95(mean, mean - half, mean + half, n, sd)
    rng = np.random.default_rng(seed)
    boots = x[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    lo, hi = np.quantile(boots, [0.5 - level / 2, 0.5 + level / 2])
    return Interval95(mean, float(lo), float(hi), n, sd)


def paired_difference(a, b, *, level: float = LEVEL, method: str = "t", **kwargs) -> Interval95:
    """Mean of the per-seed differences ``a - b`` with its confidence interval.

    ``a`` and ``b`` hold one value per seed in the *same seed order*; seeds where
    either is NaN are dropped from both.  Same options as :func:`mean_ci`.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired_difference: a and b must pair seed by seed; got shapes {a.shape} and {b.shape}.")
    return mean_ci(a - b, level=level, method=method, **kwargs)


def verdict(diff: Interval95, *, what: str = "distilled", reference: str = "alone") -> str:
    """One phrase for a paired difference: which learner is ahead, or that the CI cannot tell."""
    if diff.n < 2:
        return "one seed: no interval"
    if diff.contains_zero:
        return "not separable (95% CI of the difference contains 0)"
    return f"{what} {'above' if diff.mean > 0 else 'below'} {reference}"


__all__ = ["LEVEL", "METHODS", "Interval95", "mean_ci", "paired_difference", "verdict"]
