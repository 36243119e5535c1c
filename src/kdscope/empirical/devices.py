"""Where empirical training runs: CPU by default, a GPU when asked for and present.

``--device auto|cpu|cuda|mps``: ``auto`` picks CUDA, then Apple's MPS, then the CPU;
an explicit ``cuda`` or ``mps`` on a machine without it is an error (never a silent
fallback).  Nothing in kdscope needs a GPU.
"""

from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")


class DeviceError(ValueError):
    """The requested accelerator is not available on this machine."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str = "cpu") -> torch.device:
    """The torch device for ``name`` in :data:`DEVICES`.

    Raises
    ------
    DeviceError
        If ``name`` is unknown, or names an accelerator this machine lacks.
    """
    if name not in DEVICES:
        raise DeviceError(f"'device' must be one of {set(DEVICES)}; got {name!r}.")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("'device' is 'cuda' but torch sees no CUDA GPU here; use --device cpu or auto.")
    if name == "mps" and not _mps_available():
        raise DeviceError("'device' is 'mps' but the MPS backend is not available here; use --device cpu or auto.")
    return torch.device(name)


__all__ = ["DEVICES", "DeviceError", "resolve_device"]
