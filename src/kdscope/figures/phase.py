"""Phase diagrams: a value over two parameters, its zero contour and threshold lines.

Pure drawing: a tidy table (one row per grid point, store column names) in, a
matplotlib Figure out.  Typical value: the student's gain from distillation
over a reference student, eps(student) - eps(reference): negative where distillation helps.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from .style import THRESHOLD_STYLES, column_label

__all__ = ["plot_phase_diagram"]


def plot_phase_diagram(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    value: str,
    logx: bool = False,
    logy: bool = False,
    cmap: str = "RdBu_r",
    center: float | None = 0.0,
    contour: Sequence[float] | None = (0.0,),
    vlines: Mapping[str, float] | None = None,
    hlines: Mapping[str, float] | None = None,
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    value_label: str | None = None,
    title: str | None = None,
    contour_label: str | None = r"$\Delta\varepsilon_g = 0$",
    xlabel: str | None = None,
    ylabel: str | None = None,
    legend: bool | str = True,
    ax: plt.Axes | None = None,
) -> Figure:
    """Heat map of ``value`` over (``x``, ``y``) with contour lines and thresholds.

    Parameters
    ----------
    df : rows with columns x, y, value (and optionally ``converged``: others are
        left blank).  Duplicate (x, y) rows are averaged.
    x, y : grid columns.  value : the coloured column.
    logx, logy : logarithmic axes.
    cmap : colour map; with ``center`` (default 0) the colour limits are
        symmetric about it, so the centre gets the neutral colour of a diverging map.
    contour : levels drawn as black contour lines where the value crosses them
        (default: the zero line); None for none.
    vlines, hlines : label -> position of threshold lines (e.g. alpha*).
    curves : label -> (xs, ys) of threshold curves in the plane.
    value_label, title : texts.
    xlabel, ylabel : axis texts (default: from the column names).
    contour_label : text written on the zero contour (None: unlabelled; other levels show their value).
    legend : True: threshold legend below the axes (outside the map); 'inside': best place inside;
        False: none (collect ``ax.get_legend_handles_labels()`` for a figure legend).
    ax : draw into these axes (a colour bar is added beside them).

    Returns
    -------
    matplotlib.figure.Figure (axes: the map and its colour bar).
    """
    missing = [c for c in (x, y, value) if c not in df.columns]
    if missing:
        raise KeyError(f"plot_phase_diagram: column(s) {missing} not in the table (columns: {list(df.columns)}).")
    data = df
    if "converged" in data.columns:
        data = data[data["converged"].fillna(False).astype(bool)]
    grid = data.pivot_table(index=y, columns=x, values=value, aggfunc="mean").sort_index().sort_index(axis=1)
    xs, ys, z = grid.columns.to_numpy(float), grid.index.to_numpy(float), grid.to_numpy(float)
    fig, ax = (plt.subplots() if ax is None else (ax.figure, ax))
    finite = z[np.isfinite(z)]
    norm = None
    if center is not None and finite.size:
        half = float(np.max(np.abs(finite - center))) or 1.0
        norm = Normalize(vmin=center - half, vmax=center + half)  # the centre is the neutral colour
    mesh = ax.pcolormesh(xs, ys, np.ma.masked_invalid(z), cmap=cmap, norm=norm, shading="nearest")
    cbar = fig.colorbar(mesh, ax=ax)
    cbar.set_label(value_label or column_label(value))
    if contour is not None and z.shape[0] >= 2 and z.shape[1] >= 2 and finite.size:
        levels = [lv for lv in contour if finite.min() < lv < finite.max()]
        if levels:
            # cells that equal a level by construction (e.g. xi = 0, where the student *is* its reference, equal
            # up to the solver's ~1e-9) are not a crossing: contouring their rounding noise would draw a spurious
            # line along that edge of the grid; 1e-6 of the colour scale is far below any drawn difference
            tiny = 1e-6 * float(np.max(np.abs(finite)))
            exact = np.any([np.abs(z - lv) <= tiny for lv in levels], axis=0)
            cs = ax.contour(xs, ys, np.ma.masked_where(~np.isfinite(z) | exact, z), levels=levels, colors="k",
                            linewidths=1.4)
            cs.set_gid("contour")
            fmt = {lv: (contour_label if (lv == 0 and contour_label) else f"{lv:g}") for lv in levels}
            # not inline: an inline label cuts a gap as long as the label out of a coarse contour
            for t in ax.clabel(cs, levels=levels, fmt=fmt, fontsize=8, inline=False):
                t.set_gid("contour_label")
                t.set_bbox(dict(facecolor="white", alpha=0.75, edgecolor="none", pad=0.8))
    i = 0
    for label, xv in (vlines or {}).items():
        ax.axvline(float(xv), label=label, gid="threshold", **THRESHOLD_STYLES[i % len(THRESHOLD_STYLES)])
        i += 1
    for label, yv in (hlines or {}).items():
        ax.axhline(float(yv), label=label, gid="threshold", **THRESHOLD_STYLES[i % len(THRESHOLD_STYLES)])
        i += 1
    for label, (cx, cy) in (curves or {}).items():
        ax.plot(cx, cy, label=label, gid="threshold", **THRESHOLD_STYLES[i % len(THRESHOLD_STYLES)])
        i += 1
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if len(xs) > 1:
        ax.set_xlim(xs.min(), xs.max())
    if len(ys) > 1:
        ax.set_ylim(ys.min(), ys.max())
    ax.set_xlabel(xlabel or column_label(x))
    ax.set_ylabel(ylabel or column_label(y))
    if title:
        ax.set_title(title)
    if i and legend:
        if legend == "inside":
            ax.legend(loc="best")
        else:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1, frameon=False)
    return fig
