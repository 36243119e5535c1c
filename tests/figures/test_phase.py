"""Structural tests of the phase diagram."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from kdscope.figures import plot_phase_diagram  # noqa: E402


def _grid(values):
    xs, ys = np.linspace(1, 4, 4), np.geomspace(1e-3, 1, 3)
    rows = [dict(alpha=a, lam_t=l, gain=values(a, l), converged=True) for a in xs for l in ys]
    return pd.DataFrame(rows)


def test_phase_diagram_map_contour_and_lines():
    df = _grid(lambda a, l: a - 2.5)
    fig = plot_phase_diagram(df, x="alpha", y="lam_t", value="gain", logy=True, vlines={"interpolation": 2.0},
                             hlines={"lam": 0.1}, title="gain")
    ax, cbar = fig.axes
    assert ax.get_yscale() == "log" and ax.get_title() == "gain"
    mesh = ax.collections[0]
    assert mesh.get_array().shape in ((3, 4), (12,))
    assert [c for c in ax.collections if c.get_gid() == "contour"]
    assert len([ln for ln in ax.lines if ln.get_gid() == "threshold"]) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["interpolation", "lam"]
    assert "lam" in ax.get_ylabel() and cbar.get_ylabel()
    plt.close(fig)


def test_phase_diagram_one_sign_has_no_contour_and_skips_failed():
    df = _grid(lambda a, l: a + 1.0)
    df.loc[0, "converged"] = False
    fig = plot_phase_diagram(df, x="alpha", y="lam_t", value="gain")
    ax = fig.axes[0]
    assert not [c for c in ax.collections if c.get_gid() == "contour"]
    arr = np.ma.asarray(ax.collections[0].get_array()).reshape(3, 4)
    assert np.ma.count_masked(arr) == 1
    plt.close(fig)
    with pytest.raises(KeyError, match="value"):
        plot_phase_diagram(df, x="alpha", y="lam_t", value="value")


def test_phase_diagram_colour_limits_symmetric_about_center():
    df = _grid(lambda a, l: -a)
    fig = plot_phase_diagram(df, x="alpha", y="lam_t", value="gain")
    norm = fig.axes[0].collections[0].norm
    assert norm.vmin == -4.0 and norm.vmax == 4.0
    plt.close(fig)


def test_phase_diagram_labels_the_zero_contour_and_keeps_the_legend_outside():
    df = _grid(lambda a, l: a - 2.5)
    fig = plot_phase_diagram(df, x="alpha", y="lam_t", value="gain", vlines={"interpolation": 2.0},
                             ylabel="teacher samples", contour_label="zero")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts if t.get_gid() == "contour_label"] == ["zero"]
    assert ax.get_ylabel() == "teacher samples"
    anchor = ax.get_legend().get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert anchor.y1 < 0.0                                   # below the axes, not over the map
    plt.close(fig)
    fig = plot_phase_diagram(df, x="alpha", y="lam_t", value="gain", vlines={"interpolation": 2.0}, legend=False)
    assert fig.axes[0].get_legend() is None and fig.axes[0].get_legend_handles_labels()[1] == ["interpolation"]
    plt.close(fig)


def test_phase_diagram_no_contour_along_a_row_that_equals_the_level_exactly():
    # xi = 0 makes the student its own reference: gain 0 along that row up to solver noise (1e-10); the real zero crossing is at
    # alpha = 2.5 in the other rows, and no contour may run along the exact-zero row
    xs, ys = np.linspace(1, 4, 4), np.array([0.0, 0.5, 1.0])
    rows = [dict(alpha=a, xi=x, gain=1e-10 * np.sin(7 * a) if x == 0 else (a - 2.5) * x, converged=True) for a in xs for x in ys]
    fig = plot_phase_diagram(pd.DataFrame(rows), x="alpha", y="xi", value="gain")
    ax = fig.axes[0]
    contours = [c for c in ax.collections if c.get_gid() == "contour"]
    assert contours
    verts = np.concatenate([p.vertices for c in contours for p in c.get_paths() if len(p.vertices)])
    assert verts[:, 1].min() >= 0.5 - 1e-12
    assert np.allclose(verts[:, 0], 2.5)
    plt.close(fig)
