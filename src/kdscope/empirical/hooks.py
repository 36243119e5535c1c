"""Capture intermediate activations by dotted module path ("stage2", "stage2.0.conv1").

Used by the feature paths (FitNets hints, attention transfer) during training and
available to analysis code.  Hooks live only inside the context manager and are
removed on exit, even on error.  An unknown path fails at once and names the
nearest existing module names.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn


class UnknownLayerError(LookupError):
    """A dotted module path does not name a submodule of the model.

    Paths are those of ``model.named_modules()`` (e.g. ``"layer2.0.conv1"``;
    sequential children are numbered ``"0"``, ``"1"``, ...).  The message lists
    the closest existing names, so a typo or a renamed block shows at once.
    """


def module_names(model: nn.Module) -> list[str]:
    """Dotted paths of every submodule of ``model``, in registration order (the root excluded)."""
    return [name for name, _ in model.named_modules() if name]


def resolve_module(model: nn.Module, path: str) -> nn.Module:
    """The submodule of ``model`` at dotted ``path``.

    Raises
    ------
    UnknownLayerError
        If ``path`` names no submodule; the message gives up to five nearest
        names by ``difflib`` similarity (or the first names when none is close).
    """
    modules = dict(model.named_modules())
    if path and path in modules:
        return modules[path]
    names = module_names(model)
    close = difflib.get_close_matches(path, names, n=5, cutoff=0.5)
    if close:
        hint = "nearest existing names: " + ", ".join(repr(c) for c in close)
    else:
        shown = ", ".join(repr(c) for c in names[:8]) + (", ..." if len(names) > 8 else "")
        hint = f"no close match; the model's {len(names)} modules begin with: {shown}"
    raise UnknownLayerError(
        f"{type(model).__name__} has no submodule {path!r}; {hint}. "
        "Paths are those of model.named_modules()."
    )



@contextmanager
def capture(model: nn.Module, paths: Sequence[str], *, detach: bool = False) -> Iterator[dict[str, torch.Tensor]]:
    """Context manager yielding a dict ``path -> output`` filled on each forward pass.

    Parameters
    ----------
    model : nn.Module
    paths : sequence of str
        Dotted module paths; all are resolved before any hook is attached.
    detach : bool
        Store ``output.detach()`` (for frozen teachers and analysis) instead of the
        output itself (which keeps the autograd graph, for feature losses).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    >>> with capture(net, ["0"]) as feats:
    ...     _ = net(torch.zeros(2, 3))
    >>> tuple(feats["0"].shape)
    (2, 4)
    """
    modules = {p: resolve_module(model, p) for p in paths}
    store: dict[str, torch.Tensor] = {}
    handles = []

    def make_hook(p: str):
        def hook(_module, _inputs, output):
            store[p] = output.detach() if detach else output

        return hook

    try:
        for p, mod in modules.items():
            handles.append(mod.register_forward_hook(make_hook(p)))
        yield store
    finally:
        for h in handles:
            h.remove()
