"""Per-layer analysis of trained networks: compactness, CKA to the teacher, 2-D maps.

:func:`analyze_models` takes named models, the dotted layer paths to inspect
in each, and one analysis set (X, y); it returns a :class:`LayerAnalysis` of
tidy tables:

``metrics``   one row per model x layer x metric:
              ``model, layer, depth, n_layers, rel_depth, metric, value`` (+ tag columns);
``cka``       one row per model x layer x teacher layer x kind:
              ``model, layer, depth, rel_depth, teacher_layer, teacher_depth, kind, value`` (+ tags);
``embeddings`` (optional) one row per model x layer x sample:
              ``model, layer, depth, method, x, y, label`` (+ tags);
``templates`` (optional) the three-class template projection of the
              penultimate layer (Mueller et al. 2019): ``model, kind, x, y, label``
              with ``kind`` in {"point", "template"} (+ tags).

``depth`` is the 0-based position of the layer in the model's list and
``rel_depth = (depth + 1) / n_layers``, so students of equal depth line up.
The question asked (Lee & Wallraven, ACPR 2021) is whether a distilled student's
classes are already compact at smaller ``rel_depth`` than a plainly trained one's.

:func:`analyze_run` does the same for a training run folder, through
:func:`load_analysis_input`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from kdscope.empirical.analysis.embed import embed_features
from kdscope.empirical.analysis.embed import template_projection
from kdscope.empirical.analysis.hooks import capture, extract_features, resolve_module
from kdscope.empirical.analysis.metrics import COMPACTNESS, QUICK_METRICS, compactness, linear_cka, rbf_cka

CKA_KINDS = {"linear": linear_cka, "rbf": rbf_cka}
"""CKA variants by name."""

_RESERVED = frozenset({"model", "layer", "depth", "n_layers", "rel_depth", "metric", "value", "teacher_layer",
                       "teacher_depth", "kind", "method", "x", "y", "label"})


@dataclass(frozen=True)
class LayerAnalysis:
    """The tables of one analysis (see the module docstring for their columns)."""

    metrics: pd.DataFrame
    cka: pd.DataFrame
    embeddings: pd.DataFrame | None = None
    templates: pd.DataFrame | None = None

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write every non-empty table as ``<name>.parquet`` in ``out_dir``; returns the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name in ("metrics", "cka", "embeddings", "templates"):
            df = getattr(self, name)
            if df is not None and len(df):
                paths[name] = out / f"{name}.parquet"
                df.to_parquet(paths[name], index=False)
        return paths


def find_classifier(model: nn.Module) -> str:
    """Dotted path of the last ``nn.Linear`` in registration order (the final layer of a classifier).

    Raises
    ------
    LookupError
        If the model holds no ``nn.Linear``.
    """
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise LookupError(f"{type(model).__name__} holds no nn.Linear; pass the classifier path explicitly.")
    return names[-1]


def _check_inputs(models, layers, teacher_name, metrics, cka, tags):
    missing = [m for m in models if m not in layers]
    if missing:
        raise ValueError(f"analyze_models: 'layers' has no entry for model(s) {missing}; it has {sorted(layers)}.")
    if teacher_name is not None and teacher_name not in models:
        raise ValueError(f"analyze_models: 'teacher_name' must be one of {sorted(models)}; got {teacher_name!r}.")
    unknown = [m for m in metrics if m not in COMPACTNESS]
    if unknown:
        raise ValueError(f"analyze_models: unknown metric(s) {unknown}; known: {sorted(COMPACTNESS)}.")
    bad = [k for k in cka if k not in CKA_KINDS]
    if bad:
        raise ValueError(f"analyze_models: 'cka' kinds must be in {sorted(CKA_KINDS)}; got {bad}.")
    for name, model in models.items():
        for p in layers[name]:
            resolve_module(model, p)  # fail before any computation
    clash = sorted({k for t in (tags or {}).values() for k in t} & _RESERVED)
    if clash:
        raise ValueError(f"analyze_models: tag name(s) {clash} clash with table columns {sorted(_RESERVED)}.")


def _penultimate(model: nn.Module, path: str, X, batch_size: int, device) -> np.ndarray:
    was = model.training
    model.eval()
    parts = []
    try:
        with torch.no_grad(), capture(model, [path], how="flatten", inputs=True) as cap:
            for i in range(0, X.shape[0], batch_size):
                model(X[i : i + batch_size].to(device))
                parts.append(cap[path][0].cpu().double().numpy())
                cap.clear()
    finally:
        model.train(was)
    return np.concatenate(parts, 0)


def analyze_models(
    models: Mapping[str, nn.Module],
    layers: Mapping[str, Sequence[str]],
    X,
    y,
    *,
    teacher_name: str | None = None,
    metrics: Sequence[str] | None = None,
    cka: Sequence[str] = ("linear",),
    embed_method: str | None = None,
    embed_max_n: int = 1000,
    embed_options: Mapping[str, Any] | None = None,
    templates: bool = False,
    template_classes: Sequence[int] | None = None,
    classifiers: Mapping[str, str] | None = None,
    tags: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
) -> LayerAnalysis:
    """Per-layer compactness metrics, CKA to the teacher's layers and optional maps.

    Parameters
    ----------
    models : mapping name -> nn.Module
    layers : mapping name -> list of dotted paths
        Layers to inspect per model, ordered from input to output; conv maps are
        globally average-pooled to (N, C).
    X : tensor or array (N, ...)
        Analysis inputs (already normalised as the models expect); an array is
        cast to the dtype of the models' parameters.
    y : array (N,)
        Integer class labels.
    teacher_name : str, optional
        Key of ``models`` whose layers are the CKA reference; no CKA table without it.
    metrics : names from :data:`~kdscope.empirical.analysis.metrics.COMPACTNESS` (default all)
    cka : kinds in {"linear", "rbf"}
    embed_method : {"tsne", "ivis", "umap"}, optional
        Compute a 2-D map of every layer on at most ``embed_max_n`` samples (the same for all).
    embed_options : keyword options of the map method.
    templates : bool
        Add the penultimate three-class template projection of every model.
    template_classes : three class indices (default: the three smallest labels).
    classifiers : mapping name -> path of the final nn.Linear (default :func:`find_classifier`).
    tags : mapping name -> {column: value}
        Extra columns per model (e.g. ``{"student_kd": {"loss": "kl", "seed": 0}}``).
    seed : int
        Seeds cross-validation splits, sub-samples and maps.
    batch_size, device, cache_dir : see :func:`~kdscope.empirical.analysis.hooks.extract_features`.

    Returns
    -------
    LayerAnalysis
    """
    metrics = list(COMPACTNESS) if metrics is None else list(metrics)
    cka = list(cka)
    _check_inputs(models, layers, teacher_name, metrics, cka, tags)
    if not isinstance(X, torch.Tensor):  # arrays take the models' parameter dtype (float64 numpy -> float32)
        first = next((p for m in models.values() for p in m.parameters()), None)
        X = torch.as_tensor(np.asarray(X), dtype=first.dtype if first is not None else None)
    y = np.asarray(y)
    tags = {k: dict(v) for k, v in (tags or {}).items()}
    emb_idx = np.sort(np.random.default_rng(seed).choice(len(y), min(embed_max_n, len(y)), replace=False))

    feats = {
        name: extract_features(model, list(layers[name]), X, batch_size=batch_size, device=device, cache_dir=cache_dir)
        for name, model in models.items()
    }

    rows, cka_rows, emb_rows = [], [], []
    for name in models:
        paths = list(layers[name])
        L = len(paths)
        for depth, p in enumerate(paths):
            base = {"model": name, "layer": p, "depth": depth, "n_layers": L, "rel_depth": (depth + 1) / L}
            for metric, value in compactness(feats[name][p], y, metrics=metrics, seed=seed).items():
                rows.append({**base, "metric": metric, "value": value, **tags.get(name, {})})
            if teacher_name is not None:
                tpaths = list(layers[teacher_name])
                for tdepth, tp in enumerate(tpaths):
                    for kind in cka:
                        v = CKA_KINDS[kind](feats[name][p], feats[teacher_name][tp])
                        cka_rows.append({
                            "model": name, "layer": p, "depth": depth, "rel_depth": (depth + 1) / L,
                            "teacher_layer": tp, "teacher_depth": tdepth, "kind": kind, "value": v,
                            **tags.get(name, {}),
                        })
            if embed_method is not None:
                Z = embed_features(feats[name][p][emb_idx], embed_method, y=None, seed=seed, **dict(embed_options or {}))
                emb_rows.append(pd.DataFrame({
                    "model": name, "layer": p, "depth": depth, "method": embed_method,
                    "x": Z[:, 0], "y": Z[:, 1], "label": y[emb_idx], **tags.get(name, {}),
                }))

    tmpl = None
    if templates:
        classes = tuple(template_classes) if template_classes is not None else tuple(np.unique(y)[:3])
        parts = []
        for name, model in models.items():
            cpath = (classifiers or {}).get(name) or find_classifier(model)
            H = _penultimate(model, cpath, X, batch_size, device)
            W = resolve_module(model, cpath).weight.detach().cpu().double().numpy()
            tp = template_projection(H, y, W, classes)
            t = tags.get(name, {})
            parts.append(pd.DataFrame({"model": name, "kind": "point", "x": tp.points[:, 0],
                                       "y": tp.points[:, 1], "label": tp.labels, **t}))
            parts.append(pd.DataFrame({"model": name, "kind": "template", "x": tp.templates[:, 0],
                                       "y": tp.templates[:, 1], "label": np.asarray(classes), **t}))
        tmpl = pd.concat(parts, ignore_index=True)

    cka_cols = ["model", "layer", "depth", "rel_depth", "teacher_layer", "teacher_depth", "kind", "value"]
    return LayerAnalysis(
        metrics=pd.DataFrame(rows),
        cka=pd.DataFrame(cka_rows) if cka_rows else pd.DataFrame(columns=cka_cols),
        embeddings=pd.concat(emb_rows, ignore_index=True) if emb_rows else None,
        templates=tmpl,
    )


# ----------------------------------------------------------------------------- run folders

@dataclass(frozen=True)
class AnalysisInput:
    """What :func:`analyze_run` needs from a training run folder.

    Attributes
    ----------
    models : name -> trained nn.Module (eval mode, CPU)
    layers : name -> dotted layer paths, input to output
    X : tensor (N, ...), normalised analysis inputs (held-out data)
    y : array (N,), clean labels
    teacher_name : key of ``models`` used as the CKA reference, or None
    tags : name -> extra columns (role, loss, seed, ...)
    classifiers : name -> path of the final nn.Linear (optional)
    """

    models: dict[str, nn.Module]
    layers: dict[str, list[str]]
    X: torch.Tensor
    y: np.ndarray
    teacher_name: str | None = None
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)
    classifiers: dict[str, str] = field(default_factory=dict)


def load_analysis_input(run_dir: str | Path, *, max_n: int = 2000, seed: int = 0,
                        run_seed: int | None = None, condition: str | None = None) -> AnalysisInput:
    """Read one (condition, run seed) of a run folder into an :class:`AnalysisInput`.

    Delegates to :func:`kdscope.empirical.runner.load_analysis_input`: every trained
    learner (eval mode) keyed by learner name, its block paths, ``teacher_name``
    "teacher", tags (role, loss, tau, xi, aggregator, features, seed, condition, arch),
    and a subset of at most ``max_n`` test samples drawn with ``default_rng(seed)``.
    ``run_seed`` / ``condition`` default to the first of the run.

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` does not exist or holds no trained learner.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"analyze_run: run folder {str(run_dir)!r} does not exist.")
    from kdscope.empirical.runner import load_analysis_input as _load

    return _load(run_dir, max_n=max_n, seed=seed, run_seed=run_seed, condition=condition)


def run_keys(run_dir: str | Path) -> list[tuple[str, int]]:
    """The (condition, run seed) pairs of a run folder that hold trained learners, in run order."""
    from kdscope.empirical.store import list_models

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"analyze_run: run folder {str(run_dir)!r} does not exist.")
    table = list_models(run_dir)
    if table.empty:
        raise FileNotFoundError(f"analyze_run: {str(run_dir)!r} holds no trained learner (no runs/*/seed*/*/model.pt).")
    return list(dict.fromkeys(zip(table["condition"].astype(str), table["seed"].astype(int))))


QUICK = {"max_n": 500, "metrics": QUICK_METRICS, "cka": ("linear",), "embed_method": "ivis",
         "embed_max_n": 300, "embed_options": {"epochs": 10, "min_steps": 200}}
FULL = {"max_n": 2000, "metrics": None, "cka": ("linear", "rbf"), "embed_method": "tsne",
        "embed_max_n": 2000, "embed_options": {}}
"""Presets of :func:`analyze_run` (``quick=True`` selects :data:`QUICK`)."""


def analyze_run(run_dir: str | Path, *, quick: bool = False, seed: int = 0,
                embed_method: str | None = "preset", cache_dir: str | Path | None = None,
                progress=None) -> LayerAnalysis:
    """Analyse every learner of every (condition, run seed) of a run folder against its teacher.

    Metrics and CKA are computed for every (condition, run seed), so the tables
    carry ``condition`` and ``seed`` columns (seed bands in the figures); the 2-D
    maps and the template projection only for the first run seed of each condition.

    Parameters
    ----------
    run_dir : path of a run written by :func:`kdscope.empirical.runner.run_experiment`
    quick : bool
        Small preset (:data:`QUICK`: 500 samples, three metrics, linear CKA, short
        IVIS maps) instead of :data:`FULL` (2000 samples, every metric, linear
        and RBF CKA, t-SNE maps).
    seed : int
        Seeds the analysis subset, cross-validation splits and maps.
    embed_method : "preset", None, or a map name
        ``"preset"`` takes the preset's map; None skips the maps.
    cache_dir : optional feature cache folder (default ``run_dir/analysis_cache``).
    progress : callable(str), optional
        Called with one line per (condition, run seed) analysed.

    Returns
    -------
    LayerAnalysis
    """
    preset = QUICK if quick else FULL
    method = preset["embed_method"] if embed_method == "preset" else embed_method
    options = preset["embed_options"] if method == preset["embed_method"] else {}
    cache = cache_dir if cache_dir is not None else Path(run_dir) / "analysis_cache"
    parts: list[LayerAnalysis] = []
    seen_conditions: set[str] = set()
    for condition, run_seed in run_keys(run_dir):
        first = condition not in seen_conditions
        seen_conditions.add(condition)
        inp = load_analysis_input(run_dir, max_n=preset["max_n"], seed=seed, run_seed=run_seed, condition=condition)
        parts.append(analyze_models(
            inp.models, inp.layers, inp.X, inp.y,
            teacher_name=inp.teacher_name, metrics=preset["metrics"], cka=preset["cka"],
            embed_method=method if first else None, embed_max_n=preset["embed_max_n"], embed_options=options,
            templates=first and len(np.unique(inp.y)) >= 3, classifiers=inp.classifiers or None,
            tags=inp.tags, seed=seed, cache_dir=cache,
        ))
        if progress is not None:
            progress(f"analysed condition {condition} seed {run_seed}: {len(inp.models)} learners")

    def cat(name):
        tables = [getattr(p, name) for p in parts if getattr(p, name) is not None and len(getattr(p, name))]
        return pd.concat(tables, ignore_index=True) if tables else None

    return LayerAnalysis(metrics=cat("metrics"), cka=cat("cka") if cat("cka") is not None else parts[0].cka,
                         embeddings=cat("embeddings"), templates=cat("templates"))
