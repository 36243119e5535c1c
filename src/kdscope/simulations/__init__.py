"""kdscope.simulations: finite-size Monte Carlo of distillation, checked against the replica theory.

Public API: :func:`simulate_once` (one seed), :func:`simulate` (seed averages with
standard errors), :func:`extrapolate` (fit obs(d) = obs_inf + a / d),
:func:`simulate_frame` (tidy DataFrame); underneath, :func:`train_chain` (draw
and train one instance: the protocol) and :func:`fit` (exact Newton training).  Records carry the theory's column
names (``kdscope.theory.make_record``).
"""

from .chain import Chain, Learner, train_chain
from .extrapolate import extrapolate
from .guards import SimulationSizeError, check_size, estimate_bytes, seed_list
from .newton import Fit, FitOptions, fit
from .simulate import aggregate, chain_observables, simulate, simulate_frame, simulate_once, simulate_seeds

__all__ = ["simulate_once", "simulate", "simulate_seeds", "simulate_frame", "aggregate", "extrapolate", "fit", "Fit",
           "train_chain", "Chain", "Learner", "chain_observables",
           "FitOptions", "SimulationSizeError", "check_size", "estimate_bytes", "seed_list"]
