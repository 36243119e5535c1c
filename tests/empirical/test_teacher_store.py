"""The teacher store: train once, reuse by config hash, retrain on a changed config, cached outputs."""

import json

import numpy as np
import pytest
import torch

from kdscope.empirical.config import ModelConfig, TrainConfig
from kdscope.empirical.data import load_digits
from kdscope.empirical.metrics import predict_logits
from kdscope.empirical.teacher_store import TeacherSpec, get_teacher, pool_normalisation, teacher_outputs

SPEC = TeacherSpec("digits", ModelConfig("cnn", 4, 2), TrainConfig(epochs=1, batch_size=64), seed=0)


@pytest.fixture(scope="module")
def raw():
    return load_digits()


@pytest.fixture(scope="module")
def store(tmp_path_factory, raw):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("teachers")
    return root, get_teacher(SPEC, raw, root=root)


def test_key_is_canonical_and_sensitive():
    same = TeacherSpec("digits", ModelConfig("cnn", 4, 2), TrainConfig(epochs=1, batch_size=64), seed=0, theta=-0.0)
    assert same.key == SPEC.key
    changed = [
        TeacherSpec("digits", ModelConfig("cnn", 4, 2), TrainConfig(epochs=2, batch_size=64)),
        TeacherSpec("digits", ModelConfig("cnn", 8, 2), TrainConfig(epochs=1, batch_size=64)),
        TeacherSpec("digits", ModelConfig("cnn", 4, 2), TrainConfig(epochs=1, batch_size=64), seed=1),
        TeacherSpec("digits", ModelConfig("cnn", 4, 2), TrainConfig(epochs=1, batch_size=64), theta=0.2),
        TeacherSpec("fashion_mnist", ModelConfig("cnn", 4, 2), TrainConfig(epochs=1, batch_size=64)),
    ]
    keys = {c.key for c in changed}
    assert len(keys) == len(changed) and SPEC.key not in keys


def test_first_call_trains_and_records(store, raw):
    root, t = store
    assert t.trained_now
    info = json.loads((root / SPEC.key / "teacher.json").read_text())
    assert info["complete"] and info["key"] == SPEC.key and info["n_train"] == len(raw.y_pool)
    assert 0.1 < info["test_acc"] <= 1.0
    assert (root / SPEC.key / "model.pt").is_file() and (root / SPEC.key / "log.parquet").is_file()
    assert len(t.log) == SPEC.train.epochs
    assert (t.mean, t.std) == pytest.approx(pool_normalisation(raw))
    assert not any(p.requires_grad for p in t.model.parameters()) and not t.model.training


def test_second_call_reuses_without_training(store, raw, monkeypatch):
    root, t = store
    import kdscope.empirical.train as train_mod

    def _no_training(*a, **k):
        raise AssertionError("the stored teacher was retrained")

    monkeypatch.setattr(train_mod, "train_learner", _no_training)
    again = get_teacher(SPEC, raw, root=root)
    assert not again.trained_now and again.test_acc == t.test_acc
    for a, b in zip(again.model.state_dict().values(), t.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_changed_config_trains_a_new_teacher(store, raw):
    root, t = store
    spec2 = TeacherSpec("digits", ModelConfig("cnn", 4, 2), TrainConfig(epochs=1, batch_size=32), seed=0)
    other = get_teacher(spec2, raw, root=root)
    assert other.trained_now and other.key != t.key
    assert {p.name for p in root.iterdir()} >= {t.key, other.key}


def test_incomplete_entry_is_retrained(store, raw, tmp_path):
    root, t = store
    (tmp_path / SPEC.key).mkdir()
    (tmp_path / SPEC.key / "teacher.json").write_text(json.dumps({"key": SPEC.key, "complete": False}))
    assert get_teacher(SPEC, raw, root=tmp_path).trained_now


def test_cached_logits_equal_a_fresh_forward_pass(store, raw):
    root, t = store
    idx = np.arange(0, len(raw.y_pool), 3)
    z, feats = teacher_outputs(t, raw, idx)
    assert feats == {} and z.shape == (len(idx), 10)
    x = torch.from_numpy((raw.x_pool[idx] - t.mean) / t.std)
    torch.testing.assert_close(z, predict_logits(t.model, x), rtol=1e-5, atol=1e-5)
    files = list((t.folder / "outputs").glob("*.pt"))
    assert len(files) == 1
    t._memo.clear()  # a later process: read from disk, identical
    z2, _ = teacher_outputs(t, raw, idx)
    assert torch.equal(z, z2)
    z3, f3 = teacher_outputs(t, raw, idx[:10], paths=("stage1",))
    torch.testing.assert_close(z3, z[:10], rtol=1e-5, atol=1e-5)
    assert f3["stage1"].shape[:2] == (10, 4)
    assert len(list((t.folder / "outputs").glob("*.pt"))) == 2


def test_feature_cache_refuses_huge_requests(store, raw, monkeypatch):
    import kdscope.empirical.teacher_store as ts

    _, t = store
    monkeypatch.setattr(ts, "MAX_CACHE_BYTES", 1000)
    with pytest.raises(ValueError, match="GiB"):
        teacher_outputs(t, raw, np.arange(50), paths=("stage1",))


def test_spec_for_another_dataset_is_refused(store, raw):
    root, _ = store
    bad = TeacherSpec("fashion_mnist", ModelConfig("cnn", 4, 2), TrainConfig(epochs=1))
    with pytest.raises(ValueError, match="fashion_mnist"):
        get_teacher(bad, raw, root=root)
