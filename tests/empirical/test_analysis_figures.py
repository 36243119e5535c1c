"""Structure of the embedding-analysis figures, built from small hand-made tables."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from kdscope.figures.embeddings import (
    plot_cka_heatmaps,
    plot_embedding_grid,
    plot_metric_curves,
    plot_template_projection,
)

matplotlib.use("Agg")


def _visible(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def test_embedding_grid_rows_models_columns_layers():
    rng = np.random.default_rng(0)
    rows = []
    for model, layers in [("teacher", ["s1", "s2", "s3"]), ("kd", ["s1", "s2"])]:
        for depth, layer in enumerate(layers):
            for lab in range(3):
                rows.append(pd.DataFrame({"model": model, "layer": layer, "depth": depth,
                                          "x": rng.normal(size=5), "y": rng.normal(size=5), "label": lab}))
    fig = plot_embedding_grid(pd.concat(rows))
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2 * 3 and len(_visible(fig)) == 5
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["s1", "s2", "s3"]
    assert axes[0, 0].get_ylabel() == "teacher" and axes[1, 0].get_ylabel() == "kd"
    assert not axes[1, 2].get_visible()
    assert len(axes[1, 1].collections) == 1 and axes[1, 1].collections[0].get_offsets().shape == (15, 2)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["0", "1", "2"]


def test_metric_curves_lines_and_seed_bands():
    rows = [{"model": m, "seed": s, "rel_depth": d, "metric": met, "value": v + 0.01 * s}
            for m, v in [("kd", 0.8), ("ce", 0.6)] for s in (0, 1, 2) for d in (0.5, 1.0)
            for met in ("knn_accuracy", "distance_ratio")]
    fig = plot_metric_curves(pd.DataFrame(rows))
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    assert ax.get_ylabel() == "$k$-NN accuracy" and ax.get_xlabel() == "relative depth (layer / number of layers)"
    assert fig.axes[1].get_ylabel() == "within / between-class distance"
    assert len(ax.lines) == 2 and len(ax.collections) == 2  # one band per model
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.81, 0.81])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["kd", "ce"]
    one_seed = plot_metric_curves(pd.DataFrame(rows).query("seed == 0"))
    assert len(one_seed.axes[0].collections) == 0


def test_cka_heatmaps_one_panel_per_model_and_colourbar():
    rows = [{"model": m, "layer": f"s{i}", "depth": i, "teacher_layer": f"t{j}", "teacher_depth": j,
             "kind": k, "value": 1.0 / (1 + abs(i - j))}
            for m, n in [("teacher", 3), ("kd", 2), ("ce", 2)] for i in range(n) for j in range(3)
            for k in ("linear", "rbf")]
    fig = plot_cka_heatmaps(pd.DataFrame(rows), kind="rbf")
    assert len(fig.axes) == 3 + 1
    ax = fig.axes[1]
    assert ax.get_title() == "kd" and ax.get_xlabel() == "teacher layer"
    assert ax.images[0].get_array().shape == (2, 3)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["t0", "t1", "t2"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["s0", "s1"]
    assert fig.axes[-1].get_ylabel() == "rbf CKA"
    with pytest.raises(ValueError, match="kinds present"):
        plot_cka_heatmaps(pd.DataFrame(rows), kind="cosine")


def test_template_projection_panels():
    rng = np.random.default_rng(1)
    parts = []
    for model in ("KL student", "MSE student"):
        parts.append(pd.DataFrame({"model": model, "kind": "point", "x": rng.normal(size=30),
                                   "y": rng.normal(size=30), "label": np.repeat([2, 5, 7], 10)}))
        parts.append(pd.DataFrame({"model": model, "kind": "template", "x": [0.0, 1.0, 0.5],
                                   "y": [0.0, 0.0, 1.0], "label": [2, 5, 7]}))
    fig = plot_template_projection(pd.concat(parts), show_templates=True)
    assert [ax.get_title() for ax in fig.axes] == ["KL student", "MSE student"]
    ax = fig.axes[0]
    assert len(ax.collections) == 2
    assert ax.collections[0].get_offsets().shape == (30, 2) and ax.collections[1].get_offsets().shape == (3, 2)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["2", "5", "7"]
    assert len(plot_template_projection(pd.concat(parts)).axes[0].collections) == 1


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="lacks column"):
        plot_embedding_grid(pd.DataFrame({"model": ["a"], "x": [0.0]}))
