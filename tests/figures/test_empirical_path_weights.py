"""Structure of the path-weight figure (learned aggregation weights over epochs), from a hand-made log."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from kdscope.figures.aggregation import plot_path_weights, weight_columns

matplotlib.use("Agg")


def _logs() -> pd.DataFrame:
    rows = []
    for learner, paths in {"alone": [], "fixed": ["kd", "hint:stage2"], "gradnorm": ["kd", "hint:stage2",
                                                                                    "attention:stage3"]}.items():
        for seed in (0, 1):
            for epoch in (1, 2, 3):
                row = {"condition": "base", "learner": learner, "seed": seed, "epoch": epoch}
                for p in ("kd", "hint:stage2", "attention:stage3"):
                    row[f"weight_{p}"] = (1.0 + 0.1 * epoch * (seed + 1)) if p in paths else np.nan
                rows.append(row)
    return pd.DataFrame(rows)


def test_one_panel_per_aggregating_learner_with_a_mean_line_per_path():
    logs = _logs()
    assert weight_columns(logs) == ["weight_kd", "weight_hint:stage2", "weight_attention:stage3"]
    fig = plot_path_weights(logs, caption="c")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["fixed", "gradnorm"]  # 'alone' has no weighted path
    # per path: one thin line per seed (2) and one mean line
    assert len(axes[0].lines) == 2 * 3 and len(axes[1].lines) == 3 * 3
    mean = [ln for ln in axes[1].lines if ln.get_label() == "kd"][0]
    np.testing.assert_allclose(mean.get_ydata(), [1.15, 1.3, 1.45])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["kd", "hint:stage2", "attention:stage3"]
    assert axes[0].get_yscale() == "log" and axes[0].get_xlabel() == "epoch"
    matplotlib.pyplot.close(fig)


def test_bad_inputs_are_refused():
    logs = _logs()
    with pytest.raises(ValueError, match="no weight_"):
        plot_path_weights(logs.drop(columns=weight_columns(logs)))
    with pytest.raises(ValueError, match="no learner"):
        plot_path_weights(logs[logs["learner"] == "alone"])
    two = pd.concat([logs, logs.assign(condition="other")])
    with pytest.raises(ValueError, match="several conditions"):
        plot_path_weights(two)
    fig = plot_path_weights(two, condition="other", learners=["fixed"], log_scale=False)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["fixed"]
    assert fig.axes[0].get_yscale() == "linear"
    matplotlib.pyplot.close(fig)
