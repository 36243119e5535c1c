"""Per-layer paired differences to the student alone, on a toy table with a known answer."""

import numpy as np
import pandas as pd
import pytest

from kdscope.empirical.analysis.paired import format_layer_differences, paired_layer_differences, reference_student


def _toy():
    rows = []
    for seed, shift in enumerate([0.00, 0.05, -0.05]):
        for model, role, xi, n_layers, gain in (("teacher", "teacher", 0.0, 4, 0.3), ("alone", "student", 0.0, 3, 0.0),
                                                ("kd", "student", 0.9, 3, 0.02), ("deep", "student", 0.9, 5, 0.1)):
            for depth in range(n_layers):
                # kd is ahead of alone by exactly 0.02 + 0.01 * depth on every seed in layer stage{depth}
                value = 0.5 + shift + gain + (0.01 * depth if model == "kd" else 0.0)
                rows.append({"model": model, "layer": f"stage{depth}", "depth": depth, "n_layers": n_layers,
                             "rel_depth": (depth + 1) / n_layers, "metric": "knn_acc", "value": value,
                             "seed": seed, "condition": "base", "role": role, "xi": xi, "features": ""})
    return pd.DataFrame(rows)


def test_paired_layer_differences_known_answer():
    table = _toy()
    assert reference_student(table) == "alone"
    out = paired_layer_differences(table)
    assert set(out["model"]) == {"kd"}  # teacher and the deeper student are not of the alone student's depth
    assert out["delta"].to_numpy() == pytest.approx([0.02, 0.03, 0.04])
    assert (out["n_seeds"] == 3).all()
    assert out["delta_ci_high"].to_numpy() - out["delta_ci_low"].to_numpy() == pytest.approx(np.zeros(3), abs=1e-12)
    assert (out["verdict"] == "kd above alone").all()
    text = format_layer_differences(out)
    assert "stage0 +0.020*" in text and "'alone'" in text


def test_noisy_differences_are_not_separable():
    table = _toy()
    noise = {0: 0.03, 1: -0.04, 2: 0.01}
    mask = table["model"] == "kd"
    table.loc[mask, "value"] += table.loc[mask, "seed"].map(noise) - 0.02 - 0.01 * table.loc[mask, "depth"]
    out = paired_layer_differences(table)
    assert out["delta"].to_numpy() == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)
    assert out["verdict"].str.startswith("not separable").all()
    assert "*" not in format_layer_differences(out).split("\n", 1)[1]


def test_without_reference_or_seeds_the_table_is_empty():
    table = _toy()
    assert paired_layer_differences(table[table["model"] != "alone"]).empty
    assert paired_layer_differences(table.drop(columns="seed")).empty
    assert "no paired" in format_layer_differences(pd.DataFrame())
