"""End to end on a tiny digits run: analyze_run tables and `kdscope empirical analyze`."""

import pandas as pd
import pytest
from typer.testing import CliRunner

import kdscope.cli  # noqa: F401 - registers the command families
import kdscope.cli.empirical_analyze_cmd  # noqa: F401 - registers `empirical analyze`
from kdscope.cli._app import app
from kdscope.empirical.analysis import analyze_run, run_keys


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    import torch

    from kdscope.empirical.config import parse_experiment
    from kdscope.empirical.runner import run_experiment

    torch.set_num_threads(1)
    raw = {
        "name": "tiny", "seeds": [0, 1],
        "data": {"dataset": "digits", "train_fraction": 0.2, "val_fraction": 0.0, "test_fraction": 0.3},
        "models": {"t": {"arch": "cnn", "width": 6, "depth": 2}, "s": {"arch": "cnn", "width": 4, "depth": 2}},
        "teacher": {"model": "t"}, "train": {"epochs": 1, "batch_size": 64},
        "students": [{"name": "alone", "model": "s", "xi": 0.0},
                     {"name": "kl", "model": "s", "xi": 0.9, "loss": "kl", "tau": 3.0},
                     {"name": "mse", "model": "s", "xi": 0.9, "loss": "mse"}],
    }
    out = tmp_path_factory.mktemp("run")
    run_experiment(parse_experiment(raw), out, progress=False, echo=None)
    return out


def test_analyze_run_covers_every_seed(tiny_run):
    assert run_keys(tiny_run) == [("base", 0), ("base", 1)]
    res = analyze_run(tiny_run, quick=True, embed_method=None)
    m = res.metrics
    assert set(m["seed"]) == {0, 1} and set(m["model"]) == {"teacher", "alone", "kl", "mse"}
    assert set(m["metric"]) == {"knn_accuracy", "silhouette", "distance_ratio"}
    assert m.groupby(["seed", "model"]).size().nunique() == 1
    assert m["value"].notna().all()
    c = res.cka
    assert set(c["kind"]) == {"linear"} and c["value"].between(0, 1 + 1e-9).all()
    assert res.embeddings is None
    t = res.templates
    assert set(t["seed"]) == {0} and (t["kind"] == "template").sum() == 3 * 4  # first seed only


def test_cli_writes_tables_and_figures(tiny_run, tmp_path):
    out = tmp_path / "analysis"
    result = CliRunner().invoke(app, ["empirical", "analyze", str(tiny_run), "--quick", "--maps", "none",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "metrics.parquet").is_file() and (out / "cka.parquet").is_file()
    assert (out / "figure_metrics_vs_depth.png").is_file() and (out / "figure_cka_linear.pdf").is_file()
    assert (out / "figure_templates.png").is_file() and not (out / "figure_maps.png").exists()
    assert len(pd.read_parquet(out / "metrics.parquet")) > 0
    assert "knn_accuracy" in result.output
    diffs = pd.read_parquet(out / "layer_differences.parquet")  # paired per layer over the two seeds
    assert set(diffs["model"]) == {"kl", "mse"} and (diffs["reference"] == "alone").all()
    assert (diffs["n_seeds"] == 2).all() and "per-layer difference to 'alone'" in result.output


def test_cli_missing_run_exits_2(tmp_path):
    result = CliRunner().invoke(app, ["empirical", "analyze", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    bad = CliRunner().invoke(app, ["empirical", "analyze", str(tmp_path), "--maps", "pca"])
    assert bad.exit_code == 2 and "--maps" in bad.output
