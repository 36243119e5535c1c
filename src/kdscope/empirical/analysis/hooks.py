"""Per-layer activations by dotted module path, through forward hooks.

``capture(model, ["layer2.0.conv1", "fc"])`` is a context manager: inside it,
every forward pass appends the output of each named module to the returned
:class:`Capture`; on exit (normal or by exception) every hook is removed.
An unknown path fails at once with :class:`UnknownLayerError`, naming the
nearest existing module names (``difflib``); nothing ever warns and returns None.

``extract_features(model, paths, data)`` runs a whole data set through the model
in eval mode without gradients and returns ``{path: array (N, C)}``: a conv map
``(N, C, H, W)`` is reduced by global average pooling,
``a[n, c] = (1 / (H W)) * sum_{h, w} A[n, c, h, w]``.  With ``cache_dir`` the
pooled features are stored as one ``.npz`` per (model state hash, layer, data
hash, pooling), so a repeated analysis costs one hash of the inputs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kdscope.empirical.hooks import UnknownLayerError, module_names, resolve_module  # noqa: F401 (re-exported)

POOLINGS = ("gap", "flatten", "none")
"""Allowed reductions of one activation: global average pooling over every axis
after the channel axis (``gap``), flattening to ``(N, -1)`` (``flatten``), or
the raw tensor (``none``, only for :func:`capture`)."""


def pool(a: torch.Tensor, how: str = "gap") -> torch.Tensor:
    """Reduce one activation batch to ``(N, C)``.

    ``gap``: mean over every axis after the channel axis, so ``(N, C, H, W) -> (N, C)``
    with ``a[n, c] = mean_{h, w} A[n, c, h, w]`` (and ``(N, C, L) -> (N, C)``);
    a ``(N, C)`` tensor is returned unchanged. ``flatten``: ``(N, prod(rest))``.
    ``none``: unchanged.
    """
    if how == "none":
        return a
    if a.ndim < 2:
        return a.reshape(a.shape[0], -1)
    if how == "gap":
        return a.mean(dim=tuple(range(2, a.ndim))) if a.ndim > 2 else a
    if how == "flatten":
        return a.reshape(a.shape[0], -1)
    raise ValueError(f"pool: 'how' must be one of {set(POOLINGS)}; got {how!r}.")


def _first_tensor(obj) -> torch.Tensor:
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, (tuple, list)):
        for item in obj:
            if isinstance(item, torch.Tensor):
                return item
    raise TypeError(f"hooked module produced {type(obj).__name__}, which holds no tensor")


class Capture:
    """Activations recorded by :func:`capture`: ``capture[path]`` is the list of
    pooled, detached tensors, one per forward call of that module."""

    def __init__(self, paths: Sequence[str]):
        self.paths = list(paths)
        self._store: dict[str, list[torch.Tensor]] = {p: [] for p in self.paths}
        self.handles: list[torch.utils.hooks.RemovableHandle] = []

    def __getitem__(self, path: str) -> list[torch.Tensor]:
        return self._store[path]

    def last(self, path: str) -> torch.Tensor:
        """The activation of the most recent forward call of ``path``."""
        if not self._store[path]:
            raise RuntimeError(f"capture: module {path!r} has not run since the capture began")
        return self._store[path][-1]

    def concat(self, path: str) -> torch.Tensor:
        """All recorded batches of ``path`` concatenated along the sample axis."""
        return torch.cat(self._store[path], dim=0)

    def clear(self) -> None:
        for p in self.paths:
            self._store[p].clear()


@contextmanager
def capture(
    model: nn.Module, paths: Iterable[str], *, how: str = "gap", inputs: bool = False
) -> Iterator[Capture]:
    """Record the output (or, with ``inputs=True``, the first input) of each named module.

    Parameters
    ----------
    model : nn.Module
    paths : iterable of str
        Dotted module paths; every path is resolved before any hook is attached.
    how : {"gap", "flatten", "none"}
        Reduction applied to each recorded tensor, see :func:`pool`.
    inputs : bool
        Record the module's first positional input instead of its output
        (e.g. the penultimate activation entering the final ``nn.Linear``).

    Yields
    ------
    Capture
        Filled during forward passes inside the ``with`` block; tensors are detached.

    Raises
    ------
    UnknownLayerError
        If a path names no submodule (before any hook is attached).
    """
    if how not in POOLINGS:
        raise ValueError(f"capture: 'how' must be one of {set(POOLINGS)}; got {how!r}.")
    paths = list(dict.fromkeys(paths))
    modules = {p: resolve_module(model, p) for p in paths}
    cap = Capture(paths)

    def _make_hook(p: str):
        if inputs:
            def hook(_module, args):
                cap._store[p].append(pool(_first_tensor(args).detach(), how))
        else:
            def hook(_module, _args, output):
                cap._store[p].append(pool(_first_tensor(output).detach(), how))
        return hook

    try:
        for p, m in modules.items():
            if inputs:
                cap.handles.append(m.register_forward_pre_hook(_make_hook(p)))
            else:
                cap.handles.append(m.register_forward_hook(_make_hook(p)))
        yield cap
    finally:
        for h in cap.handles:
            h.remove()
        cap.handles.clear()


# ----------------------------------------------------------------------------- hashing

def model_state_hash(model: nn.Module) -> str:
    """SHA-256 of the model's class name and every state-dict entry (name, dtype, shape, bytes)."""
    h = hashlib.sha256(type(model).__qualname__.encode())
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def data_hash(x: torch.Tensor | np.ndarray) -> str:
    """SHA-256 of an input array's dtype, shape and bytes."""
    a = x.detach().cpu().contiguous().numpy() if isinstance(x, torch.Tensor) else np.ascontiguousarray(x)
    h = hashlib.sha256(f"{a.dtype}|{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def _cache_file(cache_dir: Path, mhash: str, dhash: str, layer: str, how: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", layer)
    return cache_dir / f"{mhash[:20]}_{dhash[:20]}_{how}_{safe}.npz"


# ----------------------------------------------------------------------------- extraction

def _batches(data, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield (x, y-or-None) from a tensor, an array, or a DataLoader of x or (x, y, ...)."""
    if isinstance(data, np.ndarray):
        data = torch.from_numpy(data)
    if isinstance(data, torch.Tensor):
        for i in range(0, data.shape[0], batch_size):
            yield data[i : i + batch_size], None
        return
    for batch in data:
        if isinstance(batch, (tuple, list)):
            yield batch[0], (batch[1] if len(batch) > 1 else None)
        else:
            yield batch, None


def extract_features(
    model: nn.Module,
    paths: Sequence[str],
    data,
    *,
    how: str = "gap",
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
    return_labels: bool = False,
):
    """Pooled activations of ``paths`` over a whole data set.

    Parameters
    ----------
    model : nn.Module
        Run in eval mode under ``torch.no_grad``; its train/eval flag is restored.
    paths : sequence of str
        Dotted module paths (see :func:`resolve_module`).
    data : torch.Tensor, np.ndarray or iterable of batches
        Inputs ``(N, ...)``, or a DataLoader yielding ``x`` or ``(x, y, ...)``.
    how : {"gap", "flatten"}
        Reduction to ``(N, C)``, see :func:`pool`.
    batch_size : int
        Batch size when ``data`` is a tensor or array.
    device : str or torch.device
    cache_dir : path, optional
        Folder of ``.npz`` files keyed by (model state hash, data hash, pooling, layer).
        A DataLoader is materialised once to hash its inputs.
    return_labels : bool
        Also return the labels seen in the loader (``None`` for plain tensors).

    Returns
    -------
    dict[str, np.ndarray]
        ``{path: float32 array (N, C)}`` in the order of ``paths``;
        with ``return_labels``, the tuple ``(features, labels)``.

    Raises
    ------
    UnknownLayerError
        If a path names no submodule.
    """
    if how not in ("gap", "flatten"):
        raise ValueError(f"extract_features: 'how' must be one of {{'gap', 'flatten'}}; got {how!r}.")
    paths = list(dict.fromkeys(paths))
    for p in paths:
        resolve_module(model, p)

    labels: np.ndarray | None = None
    todo = paths
    cached: dict[str, np.ndarray] = {}
    mhash = dhash = ""
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        xs, ys = [], []
        for xb, yb in _batches(data, batch_size):
            xs.append(torch.as_tensor(xb))
            if yb is not None:
                ys.append(torch.as_tensor(yb))
        x_all = torch.cat(xs, 0)
        labels = torch.cat(ys, 0).cpu().numpy() if ys else None
        data = x_all
        mhash, dhash = model_state_hash(model), data_hash(x_all)
        for p in paths:
            f = _cache_file(cache_dir, mhash, dhash, p, how)
            if f.exists():
                with np.load(f) as z:
                    cached[p] = z["features"]
        todo = [p for p in paths if p not in cached]

    computed: dict[str, np.ndarray] = {}
    if todo:
        was_training = model.training
        model.eval()
        ys = []
        parts: dict[str, list[np.ndarray]] = {p: [] for p in todo}
        try:
            with torch.no_grad(), capture(model, todo, how=how) as cap:
                for xb, yb in _batches(data, batch_size):
                    model(torch.as_tensor(xb).to(device))
                    if yb is not None:
                        ys.append(torch.as_tensor(yb).cpu())
                    for p in todo:  # a module called twice per forward: keep its first call
                        if not cap[p]:
                            raise RuntimeError(
                                f"extract_features: module {p!r} did not run during the forward pass"
                            )
                        parts[p].append(cap[p][0].cpu().float().numpy())
                        cap[p].clear()
        finally:
            model.train(was_training)
        computed = {p: np.concatenate(v, 0) for p, v in parts.items()}
        if labels is None and ys:
            labels = torch.cat(ys, 0).numpy()
        if cache_dir is not None:
            for p, a in computed.items():
                np.savez(_cache_file(cache_dir, mhash, dhash, p, how), features=a)
    out = {p: (cached[p] if p in cached else computed[p]) for p in paths}
    return (out, labels) if return_labels else out
