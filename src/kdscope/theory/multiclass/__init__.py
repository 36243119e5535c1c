"""kdscope.theory.multiclass: replica theory of teacher -> student distillation with C classes.

Public API: :class:`MulticlassSetting`, :func:`solve_multiclass` (returns a
:class:`MulticlassSaddlePoint`), :class:`MulticlassSolverOptions`, the Gram-matrix builders
(:func:`simplex_gram`, :func:`hierarchical_gram`, :func:`parse_gram`), the observables
(:func:`generalization_error`, :func:`agreement`, :func:`bayes_error`, :func:`oracle_error`) and
:func:`orthant_probability`.  Model and equations: DESIGN.md section 8.

Covered: an ERM teacher trained on the students' samples or on its own (fresh-sample
distillation, ``alpha_s``), a given teacher (``teacher='fixed'`` with C x C overlaps), sparse
students (``eta``); each reduces at C = 2 to the binary engine's variant.  Not covered: label noise,
a Bayes-optimal teacher kind, hard pseudo-labels.  Chains with
(1 + generations)(C - 1) <= 6 Gaussian dimensions (tensor Gauss-Hermite); test errors to ~1e-12
for C <= 3, agreement to ~1e-9 for C <= 3 and ~1e-6 (Genz-Bretz) beyond; the training error is a
quadrature of an indicator (~1e-3).  The iteration runs on the binary engine's driver
(``theory.fixed_point``), with its statuses: without ridge below the separability threshold the
norm runs away and the status is NO_FINITE_MINIMISER (detected by the driver; the threshold itself
is not located for C >= 3).  The map is written once against the array kernel; the JAX kernel
(``MulticlassSolverOptions(backend='jax')``, module ``jax_engine``) compiles the same map and driver.  Checked: C = 2 equals the binary engine to
~1e-9 (teacher, KL at several tau, MSE, chains of two students); C = 3 against exact-ERM simulations
(tests/simulations/test_multiclass_sim.py).
"""

from ..fixed_point import Status
from .gram import helmert_basis, hierarchical_gram, parse_gram, simplex_gram
from .observables import agreement, bayes_error, oracle_error, generalization_error
from .orthant import orthant_probability
from .setting import MAX_CLASSES, MAX_GAUSSIAN_DIM, MulticlassSetting
from .solve import (MulticlassNotConverged, MulticlassSaddlePoint, MulticlassSolverOptions, MulticlassState,
                    solve_multiclass)

__all__ = [
    "MulticlassSetting", "MAX_CLASSES", "MAX_GAUSSIAN_DIM", "solve_multiclass", "MulticlassSaddlePoint",
    "MulticlassSolverOptions", "MulticlassState", "MulticlassNotConverged", "Status", "simplex_gram",
    "hierarchical_gram", "parse_gram", "helmert_basis", "generalization_error", "agreement", "bayes_error",
    "oracle_error",
    "orthant_probability",
]
