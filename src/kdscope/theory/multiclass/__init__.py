"""kdscope.theory.multiclass: replica theory of teacher -> student distillation with C classes.

Public API: :class:`MulticlassSetting`, :func:`solve_multiclass` (returns a
:class:`MulticlassSaddlePoint`), :class:`MulticlassSolverOptions`, the Gram-matrix builders
(:func:`simplex_gram`, :func:`hierarchical_gram`, :func:`parse_gram`), the observables
(:func:`generalization_error`, :func:`agreement`, :func:`bayes_error`, :func:`oracle_error`) and
:func:`orthant_probability`.  Model and equations: DESIGN.md section 8.
"""

from .fixed_point import Status
from .gram import helmert_basis, hierarchical_gram, parse_gram, simplex_gram
from .observables import agreement, bayes_error, oracle_error, generalization_error
from .orthant import orthant_probability
from .setting import MAX_CLASSES, MAX_GAUSSIAN_DIM, MulticlassSetting
from .solve import (MulticlassNotConverged, MulticlassSaddlePoint, MulticlassSolverOptions, MulticlassState,
                    solve_multiclass)

__all__ = [
    "MulticlassSetting", "MAX_CLASSES", "MAX_GAUSSIAN_DIM", "solve_multiclass", "MulticlassSaddlePoint",
    "MulticlassSolverOptions", "MulticlassState", "MulticlassNotConverged", "Status", "simplex_gram",
    "hierarchical_gram", "parse_gram", "helmert_basis", "generalization_error", "agreement", "bayes_error", "oracle_error",
    "orthant_probability",
]
