"""Figures of the per-layer embedding analysis (pure drawing: tidy tables in, Figure out).

The tables are those of :class:`kdscope.empirical.analysis.analyze.LayerAnalysis`:

* :func:`plot_embedding_grid`: 2-D maps, rows = models, columns = layers, points coloured by class;
* :func:`plot_metric_curves`: one panel per compactness metric, value against depth,
  one line per model (or group), with a band over seeds;
* :func:`plot_cka_heatmaps`: CKA of each model layer to each teacher layer;
* :func:`plot_template_projection`: penultimate activations of three classes on the
  plane of their templates (Mueller et al. 2019), one panel per model (e.g. KL vs MSE students).

Nothing here computes an embedding or a metric, calls ``show`` or ``savefig``,
or touches global rcParams.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

_DIRECTION = {
    "knn_accuracy": "higher = more compact",
    "linear_probe": "higher = more compact",
    "silhouette": "higher = more compact",
    "davies_bouldin": "lower = more compact",
    "distance_ratio": "lower = more compact",
}


#: Axis labels of the metric and depth columns (readable text instead of the column names).
METRIC_LABELS = {
    "knn_accuracy": "$k$-NN accuracy",
    "linear_probe": "linear-probe accuracy",
    "silhouette": "silhouette score",
    "davies_bouldin": "Davies-Bouldin index",
    "distance_ratio": "within / between-class distance",
}
DEPTH_LABELS = {"rel_depth": "relative depth (layer / number of layers)", "depth": "layer index"}


def _require(table: pd.DataFrame, cols: Sequence[str], fn: str) -> None:
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise ValueError(f"{fn}: the table lacks column(s) {missing}; it has {list(table.columns)}.")


def _order(values: pd.Series, given: Sequence | None) -> list:
    return list(given) if given is not None else list(dict.fromkeys(values.tolist()))


def _class_colours(labels: Sequence, cmap: str) -> dict:
    from matplotlib import colormaps

    cm = colormaps[cmap]
    n = getattr(cm, "N", 256)
    return {lab: cm(i % n if n < 256 else i / max(len(labels) - 1, 1)) for i, lab in enumerate(labels)}


def _class_legend(fig: Figure, colours: dict, title: str = "class") -> None:
    handles = [Line2D([], [], ls="", marker="o", color=c, label=str(lab)) for lab, c in colours.items()]
    fig.legend(handles=handles, title=title, loc="center right", frameon=False)


def plot_embedding_grid(
    table: pd.DataFrame,
    *,
    models: Sequence[str] | None = None,
    hue: str = "label",
    point_size: float = 3.0,
    cmap: str = "tab10",
    panel_size: float = 2.0,
) -> Figure:
    """Grid of 2-D maps: one row per model, one column per layer (by ``depth``).

    Parameters
    ----------
    table : DataFrame with columns ``model, layer, depth, x, y`` and ``hue``
    models : row order (default: order of appearance)
    hue : column giving the class of each point
    point_size, cmap, panel_size : styling

    Returns
    -------
    Figure with ``len(models) * max_depth`` axes; panels a model lacks are hidden.
    Each panel is titled with its layer path; the first column's y label is the model.
    """
    _require(table, ["model", "layer", "depth", "x", "y", hue], "plot_embedding_grid")
    models = _order(table["model"], models)
    depths = sorted(table["depth"].unique())
    classes = sorted(table[hue].unique())
    colours = _class_colours(classes, cmap)
    fig = Figure(figsize=(panel_size * len(depths) + 1.0, panel_size * len(models)))
    axes = fig.subplots(len(models), len(depths), squeeze=False)
    for i, model in enumerate(models):
        sub = table[table["model"] == model]
        for j, depth in enumerate(depths):
            ax: Axes = axes[i, j]
            cell = sub[sub["depth"] == depth]
            ax.set_xticks([])
            ax.set_yticks([])
            if cell.empty:
                ax.set_visible(False)
                continue
            ax.scatter(cell["x"], cell["y"], s=point_size, c=[colours[c] for c in cell[hue]], linewidths=0)
            ax.set_title(str(cell["layer"].iloc[0]), fontsize=8)
            if j == 0:
                ax.set_ylabel(str(model))
    _class_legend(fig, colours, hue)
    fig.subplots_adjust(right=1 - 0.9 / fig.get_figwidth())
    return fig


def plot_metric_curves(
    table: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    *,
    x: str = "rel_depth",
    hue: str = "model",
    band: str | None = "seed",
    panel_size: float = 3.0,
) -> Figure:
    """Metric against depth, one panel per metric and one line per ``hue`` value.

    The line is the mean of ``value`` over rows sharing (hue, x); when the
    ``band`` column exists and holds several values, the shaded band spans
    mean +- one standard deviation across them (ddof = 1).

    Parameters
    ----------
    table : DataFrame with columns ``metric, value``, ``x`` and ``hue``
    metrics : panel order (default: order of appearance)
    x : depth column (``rel_depth`` or ``depth``)
    hue : column whose values get one line each (e.g. ``model`` or a ``loss`` tag)
    band : column of the repetitions (seeds), or None

    Returns
    -------
    Figure with one axes per metric; axis labels from :data:`DEPTH_LABELS` and
    :data:`METRIC_LABELS` (the column name for anything not listed there).
    """
    _require(table, ["metric", "value", x, hue], "plot_metric_curves")
    metrics = _order(table["metric"], metrics)
    groups = _order(table[hue], None)
    fig = Figure(figsize=(panel_size * len(metrics) + 1.2, panel_size))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        sub = table[table["metric"] == metric]
        for k, g in enumerate(groups):
            rows = sub[sub[hue] == g]
            if rows.empty:
                continue
            stats = rows.groupby(x)["value"].agg(["mean", "std", "count"]).sort_index()
            colour = f"C{k % 10}"
            ax.plot(stats.index, stats["mean"], marker="o", ms=3, color=colour, label=str(g))
            if band is not None and band in rows.columns and rows[band].nunique() > 1:
                sd = stats["std"].fillna(0.0)
                ax.fill_between(stats.index, stats["mean"] - sd, stats["mean"] + sd, color=colour, alpha=0.2, lw=0)
        ax.set_xlabel(DEPTH_LABELS.get(x, x))
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
        if metric in _DIRECTION:
            ax.set_title(_DIRECTION[metric], fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, title=hue, loc="center right", frameon=False)
    fig.subplots_adjust(right=1 - 1.1 / fig.get_figwidth(), wspace=0.35, bottom=0.18)
    return fig


def plot_cka_heatmaps(
    table: pd.DataFrame,
    *,
    kind: str = "linear",
    models: Sequence[str] | None = None,
    cmap: str = "magma",
    panel_size: float = 3.0,
) -> Figure:
    """CKA heatmaps: per model, rows = its layers (input at the bottom), columns = teacher layers.

    Repeated rows (several seeds of one model) are averaged.

    Parameters
    ----------
    table : DataFrame with columns ``model, layer, depth, teacher_layer, teacher_depth, kind, value``
    kind : which CKA (``linear`` or ``rbf``)
    models : panel order (default: order of appearance)

    Returns
    -------
    Figure with one heatmap axes per model plus one colour-bar axes; colour range [0, 1].
    """
    _require(table, ["model", "layer", "depth", "teacher_layer", "teacher_depth", "kind", "value"], "plot_cka_heatmaps")
    sub = table[table["kind"] == kind]
    if sub.empty:
        raise ValueError(f"plot_cka_heatmaps: no rows of kind {kind!r}; kinds present: {sorted(table['kind'].unique())}.")
    models = _order(sub["model"], models)
    fig = Figure(figsize=(panel_size * len(models) + 1.0, panel_size))
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    image = None
    for ax, model in zip(axes, models):
        rows = sub[sub["model"] == model]
        grid = rows.pivot_table(index="depth", columns="teacher_depth", values="value", aggfunc="mean").sort_index()
        grid = grid.reindex(sorted(grid.columns), axis=1)
        ynames = rows.drop_duplicates("depth").set_index("depth")["layer"].reindex(grid.index)
        xnames = rows.drop_duplicates("teacher_depth").set_index("teacher_depth")["teacher_layer"].reindex(grid.columns)
        image = ax.imshow(grid.to_numpy(), origin="lower", vmin=0.0, vmax=1.0, cmap=cmap, aspect="auto")
        ax.set_xticks(np.arange(grid.shape[1]), [str(n) for n in xnames], rotation=60, fontsize=7, ha="right")
        ax.set_yticks(np.arange(grid.shape[0]), [str(n) for n in ynames], fontsize=7)
        ax.set_title(str(model))
        ax.set_xlabel("teacher layer")
    axes[0].set_ylabel("model layer")
    fig.subplots_adjust(right=0.88, bottom=0.3, wspace=0.6)
    cax = fig.add_axes([0.9, 0.3, 0.02, 0.58])
    fig.colorbar(image, cax=cax, label=f"{kind} CKA")
    return fig


def plot_template_projection(
    table: pd.DataFrame,
    *,
    models: Sequence[str] | None = None,
    show_templates: bool = False,
    point_size: float = 4.0,
    cmap: str = "tab10",
    panel_size: float = 3.0,
) -> Figure:
    """Penultimate activations of three classes projected on the plane of their templates.

    Parameters
    ----------
    table : DataFrame with columns ``model, kind, x, y, label``; ``kind`` is
        ``"point"`` for a sample and ``"template"`` for a class template
    models : panel order (default: order of appearance), e.g. ``["KL student", "MSE student"]``
    show_templates : bool
        Also draw the templates (black-edged stars).  Off by default, as in Mueller
        et al.'s figures: weights and activations have unrelated scales, and far
        templates shrink the point clouds.

    Returns
    -------
    Figure with one axes per model.

    References
    ----------
    Mueller, Kornblith, Hinton, "When does label smoothing help?", NeurIPS 2019, Fig. 1.
    """
    _require(table, ["model", "kind", "x", "y", "label"], "plot_template_projection")
    models = _order(table["model"], models)
    classes = sorted(table["label"].unique())
    colours = _class_colours(classes, cmap)
    fig = Figure(figsize=(panel_size * len(models) + 1.0, panel_size))
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, model in zip(axes, models):
        sub = table[table["model"] == model]
        pts, tmpl = sub[sub["kind"] == "point"], sub[sub["kind"] == "template"]
        ax.scatter(pts["x"], pts["y"], s=point_size, c=[colours[c] for c in pts["label"]], linewidths=0, alpha=0.6)
        if show_templates and not tmpl.empty:
            ax.scatter(tmpl["x"], tmpl["y"], s=120, marker="*", c=[colours[c] for c in tmpl["label"]],
                       edgecolors="black", linewidths=0.8, zorder=3)
        ax.set_title(str(model))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", adjustable="datalim")
    _class_legend(fig, colours)
    fig.subplots_adjust(right=1 - 0.9 / fig.get_figwidth())
    return fig
