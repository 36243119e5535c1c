"""kdscope.theory: the replica-symmetric saddle point of teacher -> student distillation.

Public API: :class:`Setting`, :func:`solve` (returns a :class:`SaddlePoint`),
:func:`solve_many`, :class:`SolverOptions`, :class:`SaddlePointNotConverged`,
the losses, the observables and baselines, and the thresholds.
"""

from .constraints import SettingError
from .fixed_point import Status
from .observables import agreement, bayes_error, generalization_error, gaussian_tail, oracle_bias, oracle_error
from .setting import Setting
from .options import SolverOptions, SolverOptionsError
from .state import State
from .records import SaddlePoint, baseline_columns, learner_suffix, make_record
from .solve import SaddlePointNotConverged, solve, solve_many
from .continuation import solve_curve
from .optimize import optimal_lam, optimal_tau, optimal_xi
from .thresholds import interpolation_threshold, separability_threshold, thresholds_of

__all__ = [
    "Setting", "SettingError", "Status", "solve", "solve_many", "SaddlePoint", "SaddlePointNotConverged",
    "SolverOptions", "SolverOptionsError", "State", "learner_suffix", "make_record", "baseline_columns", "agreement",
    "bayes_error", "generalization_error", "gaussian_tail", "oracle_bias", "oracle_error", "solve_curve",
    "optimal_lam", "optimal_xi", "optimal_tau", "separability_threshold", "interpolation_threshold", "thresholds_of",
]
