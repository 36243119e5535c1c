"""kdscope.theory: the replica-symmetric saddle point of teacher -> student distillation.

Public API: :class:`Setting`, :func:`solve` (returns a :class:`SaddlePoint`),
:class:`SolverOptions`, :class:`SaddlePointNotConverged`, the losses, the
observables and baselines, and the thresholds.
"""

from .constraints import SettingError
from .fixed_point import Status
from .observables import agreement, bayes_error, generalization_error, gaussian_tail, oracle_bias, oracle_error
from .setting import Setting
from .continuation import solve_curve
from .optimize import optimal_lam, optimal_tau, optimal_xi
from .thresholds import interpolation_threshold, separability_threshold
from .solve import SaddlePoint, SaddlePointNotConverged, SolverOptions, State, learner_suffix, make_record, solve

__all__ = [
    "Setting", "SettingError", "Status", "solve", "SaddlePoint", "SaddlePointNotConverged", "SolverOptions", "State",
    "learner_suffix", "make_record", "agreement", "bayes_error", "generalization_error", "gaussian_tail",
    "oracle_bias", "oracle_error", "solve_curve", "optimal_lam", "optimal_xi", "optimal_tau",
    "separability_threshold", "interpolation_threshold",
]
