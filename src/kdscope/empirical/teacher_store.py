"""A store of pre-trained teachers, keyed by the hash of their configuration.

A distillation teacher in the limited-label regime is trained *once* on a large
labelled pool (by default the whole training set of the data set) and then reused
by every experiment that names the same teacher configuration: data set, model,
optimisation, seed and label noise (:class:`TeacherSpec`).  The spec's canonical
JSON form is hashed (SHA-256, first 16 hex digits); a changed spec gets a new hash
and trains a new teacher, an unchanged one is loaded.

Store layout (``ROOT``, default ``kdscope-out/teachers``)::

    ROOT/<hash>/
      teacher.json        spec, hash, test accuracy, pool size, normalisation, wall time,
                          kdscope and torch versions, ``complete: true`` once written
      log.parquet         the per-epoch training log (kdscope.empirical.train columns)
      model.pt            final weights
      checkpoint.pt       resume state while training (an interrupted teacher resumes)
      outputs/<key>.pt    cached teacher outputs on a fixed index set of the pool

Teacher outputs are computed in eval mode on un-augmented pool images (normalised
with the pool's mean and std, as in training) and cached by a key hashing the
index set and the hooked module paths, so a student epoch never runs the teacher.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from kdscope.empirical.config import ModelConfig, TrainConfig
from kdscope.empirical.data import NOISE_KINDS, RawDataset, add_label_noise, splits_from_indices
from kdscope.empirical.hooks import capture
from kdscope.empirical.models import build_model

STORE_FORMAT = 1
DEFAULT_ROOT = Path("kdscope-out") / "teachers"
#: Largest cached feature tensor (bytes); hooked feature maps of a whole pool can be huge.
MAX_CACHE_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class TeacherSpec:
    """Everything that determines a stored teacher: its hash is the store key.

    ``theta``/``noise``: label noise applied to the pool's labels before training
    (seeded by ``seed``), for teachers of noisy-label experiments.
    """

    dataset: str
    model: ModelConfig
    train: TrainConfig
    seed: int = 0
    theta: float = 0.0
    noise: str = "symmetric"

    def __post_init__(self) -> None:
        if self.noise not in NOISE_KINDS:
            raise ValueError(f"TeacherSpec: 'noise' must be one of {NOISE_KINDS}; got {self.noise!r}.")

    def canonical(self) -> dict:
        """Plain, order-independent form: floats as floats, ints as ints, the store format."""
        plain = asdict(self)
        for block in ("model", "train"):
            plain[block] = {k: (float(v) if isinstance(v, float) else v) for k, v in plain[block].items()}
        plain["theta"] = float(self.theta) + 0.0  # -0.0 -> 0.0
        return {"format": STORE_FORMAT, **plain}

    @property
    def key(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class StoredTeacher:
    """A trained teacher from the store: model (eval mode, frozen), metadata and folder.

    ``trained_now`` is True when this call trained it (False: loaded from the store).
    """

    spec: TeacherSpec
    model: nn.Module
    folder: Path
    info: dict
    log: pd.DataFrame
    trained_now: bool
    _memo: dict = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def test_acc(self) -> float:
        return float(self.info["test_acc"])

    @property
    def mean(self) -> float:
        return float(self.info["mean"])

    @property
    def std(self) -> float:
        return float(self.info["std"])


def _write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def _freeze(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def pool_normalisation(raw: RawDataset) -> tuple[float, float]:
    """Mean and std of all pool pixels: the one normalisation shared by teacher and students."""
    return float(raw.x_pool.mean()), float(raw.x_pool.std())


def get_teacher(
    spec: TeacherSpec,
    raw: RawDataset,
    *,
    root: str | Path = DEFAULT_ROOT,
    device: str | torch.device = "cpu",
    progress: bool = False,
    echo=None,
) -> StoredTeacher:
    """The teacher of ``spec``: loaded from ``root`` if complete there, else trained on the whole pool and saved.

    Training uses :func:`kdscope.empirical.train.train_learner` on every pool image
    (labels noisy if ``spec.theta > 0``), no validation set, the full test set for the
    reported accuracy; an interrupted training resumes from its checkpoint.

    Raises
    ------
    ValueError
        If ``raw`` is not the data set named by ``spec``.
    """
    from kdscope.empirical.train import FINAL, LOG, train_learner

    if raw.name != spec.dataset:
        raise ValueError(f"get_teacher: spec names data set {spec.dataset!r} but got {raw.name!r}.")
    folder = Path(root) / spec.key
    info_path = folder / "teacher.json"
    if info_path.is_file() and (folder / FINAL).is_file():
        info = json.loads(info_path.read_text())
        if info.get("complete") and info.get("key") == spec.key:
            model = build_model(spec.model.arch, spec.model.width, spec.model.depth, raw.n_classes,
                                int(raw.x_pool.shape[1]))
            model.load_state_dict(torch.load(folder / FINAL, weights_only=True, map_location="cpu"))
            log = pd.read_parquet(folder / LOG) if (folder / LOG).is_file() else pd.DataFrame()
            return StoredTeacher(spec, _freeze(model.to(device)), folder, info, log, trained_now=False)
    folder.mkdir(parents=True, exist_ok=True)
    idx_pool = np.arange(len(raw.y_pool))
    y = raw.y_pool.copy()
    if spec.theta > 0:
        y = add_label_noise(y, spec.theta, spec.noise, raw.n_classes, np.random.default_rng(spec.seed))
    splits = splits_from_indices(raw, idx_pool, np.array([], dtype=np.int64), np.arange(len(raw.y_test)), y)
    if echo is not None:
        echo(f"teacher {spec.key}: training {spec.model.arch}(width={spec.model.width}, depth={spec.model.depth}) "
             f"on {len(idx_pool)} {spec.dataset} images for {spec.train.epochs} epochs -> {folder}")
    t0 = time.perf_counter()
    res = train_learner(spec.model, splits, spec.train, seed=spec.seed, run_dir=folder,
                        meta={"learner": "teacher", "teacher_key": spec.key}, progress=progress,
                        desc=f"teacher {spec.key}", device=device)
    last = res.log.iloc[-1]
    info = {"key": spec.key, "spec": spec.canonical(), "test_acc": float(last["test_acc"]),
            "train_acc": float(last["train_acc"]), "n_train": len(idx_pool), "n_test": len(raw.y_test),
            "mean": splits.mean, "std": splits.std, "wall_seconds": time.perf_counter() - t0,
            "torch_version": torch.__version__, "kdscope_version": _version(), "complete": True}
    _write_json_atomic(info_path, info)
    (folder / "checkpoint.pt").unlink(missing_ok=True)
    return StoredTeacher(spec, _freeze(res.model.to(device)), folder, info, res.log, trained_now=True)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("kdscope")
    except Exception:  # noqa: BLE001 - not installed: report it rather than fail
        return "unknown"


def _outputs_key(idx: np.ndarray, paths: tuple[str, ...]) -> str:
    h = hashlib.sha256(np.ascontiguousarray(idx, dtype=np.int64).tobytes())
    h.update(json.dumps(list(paths)).encode())
    return h.hexdigest()[:16]


@torch.no_grad()
def _forward(model: nn.Module, x: np.ndarray, mean: float, std: float, paths: tuple[str, ...], device,
             batch_size: int = 1024) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    logits, feats = [], {p: [] for p in paths}
    for i in range(0, len(x), batch_size):
        xb = torch.from_numpy((x[i : i + batch_size] - mean) / std).to(device)
        with capture(model, paths, detach=True) as f:
            logits.append(model(xb).cpu())
        for p in paths:
            feats[p].append(f[p].cpu())
    return torch.cat(logits), {p: torch.cat(v) for p, v in feats.items()}


def teacher_outputs(
    teacher: StoredTeacher, raw: RawDataset, idx: np.ndarray, *, paths: tuple[str, ...] = (),
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Teacher logits (N, C) and hooked features on pool images ``raw.x_pool[idx]``, cached.

    Computed once per (index set, module paths) in eval mode and saved under
    ``outputs/<key>.pt`` in the teacher's folder; later calls (any process) load them.

    Raises
    ------
    ValueError
        If the feature maps of ``paths`` on ``len(idx)`` images would exceed
        :data:`MAX_CACHE_BYTES` (estimated from one image before computing).
    """
    idx = np.asarray(idx, dtype=np.int64)
    paths = tuple(paths)
    key = _outputs_key(idx, paths)
    if key in teacher._memo:
        return teacher._memo[key]
    path = teacher.folder / "outputs" / f"{key}.pt"
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        out = (saved["logits"], saved["features"])
        teacher._memo[key] = out
        return out
    if paths:
        _, probe = _forward(teacher.model, raw.x_pool[idx[:1]], teacher.mean, teacher.std, paths, device)
        per_image = sum(v[0].numel() * 4 for v in probe.values())
        if per_image * len(idx) > MAX_CACHE_BYTES:
            raise ValueError(f"teacher_outputs: features of {list(paths)} on {len(idx)} images need "
                             f"{per_image * len(idx) / 1024**3:.1f} GiB (limit {MAX_CACHE_BYTES / 1024**3:.0f} GiB); "
                             "hook a later layer or use fewer images.")
    out = _forward(teacher.model, raw.x_pool[idx], teacher.mean, teacher.std, paths, device)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"idx": torch.from_numpy(idx), "logits": out[0], "features": out[1]}, tmp)
    os.replace(tmp, path)
    teacher._memo[key] = out
    return out


__all__ = ["DEFAULT_ROOT", "MAX_CACHE_BYTES", "StoredTeacher", "TeacherSpec", "get_teacher", "pool_normalisation",
           "teacher_outputs"]
