"""analyze_models: tidy per-layer tables from small CNNs; analyze_run's failure paths."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from kdscope.empirical.analysis import (
    LayerAnalysis,
    UnknownLayerError,
    analyze_models,
    analyze_run,
    find_classifier,
)

torch.set_num_threads(1)


def cnn(width: int, n_classes: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(width, n_classes),
    )


@pytest.fixture
def setup():
    torch.manual_seed(0)
    models = {"teacher": cnn(8), "kd": cnn(4), "ce": cnn(4)}
    layers = {"teacher": ["1", "3", "6"], "kd": ["1", "3"], "ce": ["1", "3"]}
    g = torch.Generator().manual_seed(0)
    y = np.repeat(np.arange(3), 20)
    X = torch.randn(60, 1, 6, 6, generator=g) + torch.as_tensor(y, dtype=torch.float32)[:, None, None, None]
    return models, layers, X, y


def test_tables_have_one_row_per_model_layer_metric(setup):
    models, layers, X, y = setup
    metrics = ["knn_accuracy", "distance_ratio"]
    res = analyze_models(models, layers, X, y, teacher_name="teacher", metrics=metrics, cka=["linear", "rbf"],
                         tags={"kd": {"loss": "kl", "seed": 0}, "ce": {"loss": "ce", "seed": 0}})
    assert isinstance(res, LayerAnalysis)
    m = res.metrics
    assert len(m) == (3 + 2 + 2) * len(metrics)
    assert {"model", "layer", "depth", "n_layers", "rel_depth", "metric", "value", "loss", "seed"} <= set(m.columns)
    assert not m.duplicated(["model", "layer", "metric"]).any()
    kd = m[(m.model == "kd") & (m.metric == "knn_accuracy")]
    assert kd["layer"].tolist() == ["1", "3"] and kd["rel_depth"].tolist() == [0.5, 1.0]
    assert m[m.model == "kd"]["loss"].eq("kl").all() and m[m.model == "teacher"]["loss"].isna().all()
    assert m["value"].between(0, 1.5).all()

    c = res.cka
    assert len(c) == (3 + 2 + 2) * 3 * 2  # model layers x teacher layers x kinds
    self_sim = c[(c.model == "teacher") & (c.layer == c.teacher_layer)]
    np.testing.assert_allclose(self_sim["value"], 1.0, atol=1e-9)
    assert c["value"].between(0, 1 + 1e-9).all()
    assert res.embeddings is None and res.templates is None


def test_metrics_match_direct_computation(setup):
    from kdscope.empirical.analysis import extract_features, knn_accuracy, linear_cka

    models, layers, X, y = setup
    res = analyze_models(models, layers, X, y, teacher_name="teacher", metrics=["knn_accuracy"], seed=3)
    f_kd = extract_features(models["kd"], ["3"], X)["3"]
    f_t = extract_features(models["teacher"], ["6"], X)["6"]
    row = res.metrics.query("model == 'kd' and layer == '3'")
    assert row["value"].item() == pytest.approx(knn_accuracy(f_kd, y, seed=3))
    crow = res.cka.query("model == 'kd' and layer == '3' and teacher_layer == '6'")
    assert crow["value"].item() == pytest.approx(linear_cka(f_kd, f_t))


def test_embeddings_and_templates(setup, tmp_path):
    models, layers, X, y = setup
    res = analyze_models(models, layers, X, y, metrics=["silhouette"], embed_method="ivis",
                         embed_max_n=30, embed_options={"epochs": 1, "min_steps": 0, "hidden": (8,)},
                         templates=True)
    e = res.embeddings
    assert len(e) == 30 * (3 + 2 + 2)
    assert {"model", "layer", "depth", "method", "x", "y", "label"} <= set(e.columns)
    t = res.templates
    assert (t.groupby("model")["kind"].apply(lambda k: (k == "template").sum()) == 3).all()
    assert (t[t.kind == "point"].groupby("model").size() == 60).all()
    assert res.cka.empty
    paths = res.save(tmp_path)
    assert set(paths) == {"metrics", "embeddings", "templates"}
    pd.testing.assert_frame_equal(pd.read_parquet(paths["metrics"]), res.metrics)


def test_find_classifier(setup):
    models, *_ = setup
    assert find_classifier(models["kd"]) == "6"
    with pytest.raises(LookupError, match="nn.Linear"):
        find_classifier(nn.Sequential(nn.ReLU()))


def test_bad_inputs_fail_before_computing(setup):
    models, layers, X, y = setup
    with pytest.raises(UnknownLayerError, match="'3'"):
        analyze_models(models, {**layers, "kd": ["1", "33"]}, X, y)
    with pytest.raises(ValueError, match="teacher_name"):
        analyze_models(models, layers, X, y, teacher_name="nobody")
    with pytest.raises(ValueError, match="no entry"):
        analyze_models(models, {"teacher": layers["teacher"]}, X, y)
    with pytest.raises(ValueError, match="cka"):
        analyze_models(models, layers, X, y, teacher_name="teacher", cka=["cosine"])
    with pytest.raises(ValueError, match="clash"):
        analyze_models(models, layers, X, y, tags={"kd": {"value": 1}})


def test_numpy_float64_inputs_are_cast(setup):
    models, layers, X, y = setup
    a = analyze_models(models, layers, X, y, metrics=["distance_ratio"]).metrics
    b = analyze_models(models, layers, X.numpy().astype(np.float64), y, metrics=["distance_ratio"]).metrics
    pd.testing.assert_frame_equal(a, b)


def test_analyze_run_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        analyze_run(tmp_path / "nope")
