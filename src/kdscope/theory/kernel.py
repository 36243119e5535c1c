"""Array kernels: the few primitives in which the NumPy and JAX engines differ.

The replica-symmetric map, the losses, the prox iteration and the fixed-point
iteration are written once, against a kernel ``k``: ``k.xp`` is the array module
(numpy or jax.numpy) and the kernel adds the special functions (``expit``,
``ndtr``) and the loop primitive ``while_loop(cond, body, carry)``.  NumPy runs
the loop in Python and stops as soon as ``cond`` is false; JAX compiles it with
``lax.while_loop``.  Everything else is ordinary array code, branch-free where a
value decides (``xp.where``), so that the same function traces under ``jit``.

:func:`kernel_of` picks the kernel of an array: the JAX kernel registers itself
when ``kdscope.theory.jax_backend`` is imported (importing JAX is slow, so the
NumPy engine never imports it).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from scipy.special import expit as _np_expit
from scipy.special import ndtr as _np_ndtr


class AbstractKernel:
    """An array namespace ``xp`` plus the primitives that differ between engines.

    concrete : True when values can be inspected in Python (NumPy); False for
        traced values (JAX under jit), where only ``xp.where`` may decide.
    """

    name: str = "abstract"
    xp: Any = None
    concrete: bool = True

    def expit(self, x):
        """The logistic sigmoid 1 / (1 + exp(-x))."""
        raise NotImplementedError

    def ndtr(self, x):
        """The standard normal distribution function Phi(x)."""
        raise NotImplementedError

    def while_loop(self, cond: Callable[[Any], Any], body: Callable[[Any], Any], carry: Any) -> Any:
        """``while cond(carry): carry = body(carry)``; returns the last carry."""
        raise NotImplementedError


class NumpyKernel(AbstractKernel):
    """The NumPy engine: loops in Python, scipy's special functions."""

    name = "numpy"
    xp = np
    concrete = True

    def expit(self, x):
        return _np_expit(x)

    def ndtr(self, x):
        return _np_ndtr(x)

    def while_loop(self, cond, body, carry):
        while cond(carry):
            carry = body(carry)
        return carry


NUMPY = NumpyKernel()
_REGISTRY: list[tuple[type, AbstractKernel]] = []


def register_kernel(array_type: type, kernel: AbstractKernel) -> None:
    """Make :func:`kernel_of` return ``kernel`` for arrays of ``array_type`` (and its tracers)."""
    if not any(t is array_type for t, _ in _REGISTRY):
        _REGISTRY.append((array_type, kernel))


def kernel_of(*xs) -> AbstractKernel:
    """The kernel of the first argument that is not a NumPy array or a Python/NumPy scalar."""
    if _REGISTRY:
        for x in xs:
            if isinstance(x, (np.ndarray, float, int, np.generic, tuple)) or x is None:
                if isinstance(x, tuple):
                    inner = kernel_of(*x)
                    if inner is not NUMPY:
                        return inner
                continue
            for array_type, kernel in _REGISTRY:
                if isinstance(x, array_type):
                    return kernel
    return NUMPY


def is_value(x, value: float) -> bool:
    """True when ``x`` is a concrete number equal to ``value`` (a traced value never is).

    Used for structural shortcuts (``xi == 0`` selects the hard loss's own prox):
    under JAX the general formula, valid for every value, runs instead.
    """
    return isinstance(x, (float, int, np.floating, np.integer)) and not isinstance(x, bool) and float(x) == value
