"""kdscope: the statistical physics of knowledge distillation.

The application layer (CLI, result store, sweeps, figure recipes) on top of
``kdscope.theory`` (replica-symmetric saddle point), ``kdscope.simulations``
(finite-size Monte Carlo), ``kdscope.empirical`` (deep-network distillation)
and ``kdscope.figures`` (pure drawing).
"""

from kdscope.theory.setting import Setting
from kdscope.theory.constraints import SettingError

__version__ = "0.1.0"
__all__ = ["Setting", "SettingError", "__version__"]
