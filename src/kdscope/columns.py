"""Column names of the records, decided once: learner suffixes, error columns, baselines.

Learner k has the suffix :func:`kdscope.theory.learner_suffix` ('t' teacher, 's' first student,
's2' ...); its test error is ``eps_<suffix>``.  Every curve carries the baselines of its last
learner: the Bayes-optimal error of that learner's problem (``eps_bayes_s`` for a student, whose
sparse support changes it; ``eps_bayes`` for a teacher alone) and the oracle error ``eps_oracle``.
"""

from __future__ import annotations

from kdscope.theory import learner_suffix

__all__ = ["suffixes", "last_suffix", "error_columns", "baseline_columns"]


def suffixes(generations: int) -> list[str]:
    """Suffixes of the chain's learners, teacher first: ['t', 's', 's2', ...]."""
    return [learner_suffix(k) for k in range(int(generations) + 1)]


def last_suffix(generations: int) -> str:
    """Suffix of the last learner of a chain with ``generations`` students."""
    return learner_suffix(int(generations))


def error_columns(setting) -> list[str]:
    """The test-error columns of a Setting's chain, last learner first ('eps_s', 'eps_t' ...)."""
    return [f"eps_{x}" for x in reversed(suffixes(setting.generations))]


def baseline_columns(setting) -> list[str]:
    """Baseline columns drawn with a chain: the last learner's Bayes-optimal error first, then the others."""
    return ["eps_bayes_s", "eps_bayes", "eps_oracle"] if setting.generations >= 1 else ["eps_bayes", "eps_oracle"]
