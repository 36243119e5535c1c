"""Training: a tiny run on digits learns; students of a frozen teacher; exact resume."""

import math

import pandas as pd
import pytest
import torch

from kdscope.empirical.config import FeaturePathConfig, ModelConfig, StudentConfig, TrainConfig
from kdscope.empirical.data import load_raw, make_splits
from kdscope.empirical.train import BEST, CHECKPOINT, FINAL, LOG, train_learner

TEACHER = ModelConfig("cnn", 16, 3)
STUDENT = ModelConfig("cnn", 4, 2)
FAST = TrainConfig(epochs=4, batch_size=64, lr=0.05)


@pytest.fixture(scope="module")
def splits():
    return make_splits(load_raw("digits"), train_fraction=1.0, val_fraction=0.1, test_fraction=1.0, theta=0.0,
                       noise="symmetric", seed=0)


@pytest.fixture(scope="module")
def teacher(splits):
    torch.set_num_threads(1)
    return train_learner(TEACHER, splits, FAST, seed=0, progress=False)


def test_teacher_learns_well_above_chance(teacher, splits):
    log = teacher.log
    assert len(log) == FAST.epochs and list(log["epoch"]) == [1, 2, 3, 4]
    # chance is 0.1 on 10 balanced classes; a working pipeline reaches > 0.8 within 4 epochs
    assert log["test_acc"].iloc[-1] > 0.8
    assert log["loss_total"].iloc[-1] < log["loss_total"].iloc[0]
    assert log["agreement"].isna().all()
    assert ((log["test_ece"] >= 0) & (log["test_ece"] <= 1)).all()
    assert not teacher.model.training
    assert 1 <= teacher.best_epoch <= 4


@pytest.mark.parametrize("loss,tau", [("kl", 4.0), ("kl", math.inf), ("mse", 1.0)])
def test_students_of_a_frozen_teacher(teacher, splits, loss, tau):
    before = [p.clone() for p in teacher.model.parameters()]
    cfg = StudentConfig("s", "small", xi=0.7, loss=loss, tau=tau)
    res = train_learner(STUDENT, splits, FAST, seed=1, student_cfg=cfg, teacher=teacher.model, progress=False)
    log = res.log
    assert {"loss_ce", "loss_kd", "weight_ce", "weight_kd", "agreement"} <= set(log.columns)
    assert log["weight_kd"].sub(0.7).abs().lt(1e-6).all() and log["weight_ce"].sub(0.3).abs().lt(1e-6).all()
    assert log["test_acc"].iloc[-1] > 0.3
    assert log["agreement"].between(0, 1).all()
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.model.parameters()))  # teacher frozen


def test_feature_paths_with_learned_weights_are_logged(teacher, splits):
    feats = (FeaturePathConfig("hint", "stage2", "stage2", 0.5), FeaturePathConfig("attention", "stage1", "stage1"))
    cfg = StudentConfig("s", "small", xi=0.5, tau=2.0, features=feats, aggregator="uncertainty")
    log = train_learner(STUDENT, splits, FAST, seed=0, student_cfg=cfg, teacher=teacher.model, progress=False).log
    for path in ("ce", "kd", "hint:stage2", "attention:stage1"):
        assert f"loss_{path}" in log and f"weight_{path}" in log
    assert log["weight_hint:stage2"].iloc[-1] != 0.5  # learned, not fixed


@pytest.mark.parametrize("aggregator", ["uncertainty", "gradnorm"])
def test_resume_after_interruption_reproduces_the_run_exactly(teacher, splits, tmp_path, aggregator):
    feats = (FeaturePathConfig("hint", "stage2", "stage3"),)
    cfg = StudentConfig("s", "small", xi=0.5, tau=3.0, features=feats, aggregator=aggregator)
    kw = dict(seed=2, student_cfg=cfg, teacher=teacher.model, progress=False)
    full = train_learner(STUDENT, splits, FAST, run_dir=tmp_path / "full", **kw)
    part = train_learner(STUDENT, splits, FAST, run_dir=tmp_path / "cut", stop_after_epoch=2, **kw)
    assert not part.completed and len(part.log) == 2
    assert (tmp_path / "cut" / CHECKPOINT).is_file() and not (tmp_path / "cut" / FINAL).exists()
    resumed = train_learner(STUDENT, splits, FAST, run_dir=tmp_path / "cut", **kw)
    assert resumed.completed
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
    cols = [c for c in full.log.columns if c != "seconds"]
    pd.testing.assert_frame_equal(full.log[cols], resumed.log[cols])
    saved = pd.read_parquet(tmp_path / "cut" / LOG)
    pd.testing.assert_frame_equal(saved[cols], full.log[cols])
    assert (tmp_path / "cut" / BEST).is_file()
    # a different seed really changes the run (the comparison above is not vacuous)
    other = train_learner(STUDENT, splits, TrainConfig(epochs=1, batch_size=64), progress=False, seed=3,
                          student_cfg=cfg, teacher=teacher.model)
    assert not torch.equal(next(iter(other.model.state_dict().values())), next(iter(full.model.state_dict().values())))


def test_cached_teacher_features_equal_a_live_forward_pass(teacher, splits):
    from kdscope.empirical.hooks import capture
    from kdscope.empirical.train import teacher_features

    net = teacher.model.eval()
    z, feats = teacher_features(net, splits.x_train, ("stage1", "stage2"), batch_size=100)
    idx = torch.arange(5, 69)
    with torch.no_grad(), capture(net, ("stage1", "stage2"), detach=True) as live:
        z_live = net(splits.x_train[idx])
    torch.testing.assert_close(z[idx], z_live, rtol=1e-5, atol=1e-5)
    for p in ("stage1", "stage2"):
        torch.testing.assert_close(feats[p][idx], live[p], rtol=1e-5, atol=1e-5)


def test_feature_student_same_with_and_without_the_cache(teacher, splits, monkeypatch):
    import kdscope.empirical.train as train_mod

    feats = (FeaturePathConfig("hint", "stage2", "stage2", 0.5),)
    cfg = StudentConfig("s", "small", xi=0.5, tau=2.0, features=feats)
    one = TrainConfig(epochs=1, batch_size=64, lr=0.05)
    cached = train_learner(STUDENT, splits, one, seed=0, student_cfg=cfg, teacher=teacher.model, progress=False).log
    monkeypatch.setattr(train_mod, "MAX_FEATURE_CACHE_BYTES", 0)  # forces the live teacher pass per batch
    live = train_learner(STUDENT, splits, one, seed=0, student_cfg=cfg, teacher=teacher.model, progress=False).log
    for col in ("loss_total", "loss_hint:stage2", "loss_kd"):
        assert cached[col].iloc[0] == pytest.approx(live[col].iloc[0], rel=1e-4)
