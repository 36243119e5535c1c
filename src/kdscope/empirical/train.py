"""Train one learner (teacher or student of a frozen teacher), with checkpoints and logs.

Determinism: the model (and any hint regressor) is initialised right after
``torch.manual_seed(seed)``; mini-batch order comes from a ``torch.Generator``
seeded with ``seed``; there is no dropout or augmentation.  After every epoch the
checkpoint ``checkpoint.pt`` stores model, objective (regressors, aggregator),
optimiser, scheduler, generator and global RNG states (torch, numpy, random), the
epoch, the log so far and the best state; a run restarted after an interruption
resumes from it and reproduces the uninterrupted run exactly (same thread count).

Per-epoch log columns (one row per epoch, written to ``log.parquet``): ``epoch``,
``lr``, ``loss_total``, ``loss_<path>``, ``weight_<path>``, ``train_acc`` (on the
fly, against the training labels, noisy if any), ``val_acc``, ``test_acc``,
``test_loss`` (CE), ``test_ece``, ``agreement`` (top-1 agreement with the teacher
on the test set; NaN for a teacher), ``seconds`` (wall time; the only
non-deterministic column), plus the ``meta`` entries given by the caller.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from kdscope.empirical.config import ModelConfig, StudentConfig, TrainConfig
from kdscope.empirical.data import DataSplits
from kdscope.empirical.hooks import capture
from kdscope.empirical.metrics import accuracy, agreement, expected_calibration_error, predict_logits
from kdscope.empirical.models import build_model
from kdscope.empirical.objective import Objective

CHECKPOINT = "checkpoint.pt"
LOG = "log.parquet"
FINAL = "model.pt"
BEST = "model_best.pt"


class TrainingDivergedError(RuntimeError):
    """A learner's training loss became NaN or infinite (learning rate too large, bad data).

    The message names the learner and the epoch; training stops at the first such batch,
    before the optimiser applies the non-finite gradient.
    """


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train_learner`: final model (eval mode), per-epoch log, best epoch.

    ``completed`` is False when training stopped early at ``stop_after_epoch``.
    """

    model: nn.Module
    log: pd.DataFrame
    best_epoch: int
    best_state: dict
    completed: bool


def _constant(_epoch: int) -> float:
    return 1.0


def _optimizer(params: list[dict], cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig):
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    return torch.optim.lr_scheduler.LambdaLR(opt, _constant)


def _rng_states() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])


#: Largest teacher feature cache (bytes) kept in memory for a feature-path student.
MAX_FEATURE_CACHE_BYTES = 1024**3


@torch.no_grad()
def teacher_features(teacher: nn.Module, x: torch.Tensor, paths: tuple[str, ...],
                     batch_size: int = 512) -> tuple[torch.Tensor, dict[str, torch.Tensor]] | None:
    """Frozen teacher's logits and hooked features at ``paths`` on all of ``x`` (eval mode), or None.

    The teacher is frozen in eval mode, so these equal what a live forward pass per batch
    gives (up to float rounding); computing them once removes the teacher from every
    student step.  None when they would take more than :data:`MAX_FEATURE_CACHE_BYTES`
    (estimated on one image): the caller then runs the teacher per batch.
    """
    if len(x) == 0:
        return None
    with capture(teacher, paths, detach=True) as f:
        teacher(x[:1])
    if sum(v[0].numel() * v.element_size() for v in f.values()) * len(x) > MAX_FEATURE_CACHE_BYTES:
        return None
    logits, feats = [], {p: [] for p in paths}
    for i in range(0, len(x), batch_size):
        with capture(teacher, paths, detach=True) as f:
            logits.append(teacher(x[i : i + batch_size]))
        for p in paths:
            feats[p].append(f[p])
    return torch.cat(logits), {p: torch.cat(v) for p, v in feats.items()}


def _splits_to(splits: DataSplits, device: torch.device) -> DataSplits:
    """The splits with every tensor moved to ``device`` (indices and statistics unchanged)."""
    import dataclasses

    moved = {f.name: getattr(splits, f.name).to(device) for f in dataclasses.fields(splits)
             if isinstance(getattr(splits, f.name), torch.Tensor)}
    return dataclasses.replace(splits, **moved)


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train_learner(
    model_cfg: ModelConfig,
    splits: DataSplits,
    train_cfg: TrainConfig,
    *,
    seed: int,
    student_cfg: StudentConfig | None = None,
    teacher: nn.Module | None = None,
    run_dir: str | Path | None = None,
    meta: dict | None = None,
    progress: bool = True,
    desc: str = "",
    stop_after_epoch: int | None = None,
    device: str | torch.device = "cpu",
) -> TrainResult:
    """Train a teacher (``student_cfg`` None: cross-entropy only) or a student of ``teacher``.

    Parameters
    ----------
    model_cfg, train_cfg : architecture and optimisation settings.
    splits : DataSplits
        Training uses ``x_train, y_train``; ``val`` picks the best epoch (test when empty).
    seed : int
        Initialisation and batch order.
    student_cfg, teacher : the student's paths and its frozen teacher (eval mode, no gradient).
    run_dir : folder for checkpoint, log and final weights; None keeps everything in memory.
        If it holds a checkpoint, training resumes from it.
    meta : extra constant columns for the log (learner name, seed, ...).
    stop_after_epoch : stop (as if interrupted) after this epoch's checkpoint; for tests.
    device : where to train ("cpu", "cuda", "mps"; see :func:`kdscope.empirical.devices.resolve_device`).
        Checkpoints and returned weights are on the CPU-loadable format either way.

    Raises
    ------
    TrainingDivergedError
        If a batch loss is NaN or infinite; the message names the learner (``meta['learner']``
        or ``desc``) and the epoch.
    """
    run_dir = Path(run_dir) if run_dir is not None else None
    torch.manual_seed(seed)
    model = build_model(model_cfg.arch, model_cfg.width, model_cfg.depth, splits.n_classes, splits.in_channels)
    device = torch.device(device)
    model.to(device)
    if device.type != "cpu":
        splits = _splits_to(splits, device)
    if teacher is not None:
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    objective = Objective(student_cfg, model, teacher, splits.x_train[:4])
    agg_params = list(objective.aggregator.parameters())
    agg_ids = {id(p) for p in agg_params}
    main = list(model.parameters()) + [p for p in objective.parameters() if id(p) not in agg_ids]
    groups = [{"params": main}] + ([{"params": agg_params, "weight_decay": 0.0}] if agg_params else [])
    opt = _optimizer(groups, train_cfg)
    sched = _scheduler(opt, train_cfg)
    gen = torch.Generator().manual_seed(seed)
    shared = [next(model.parameters())]
    rows: list[dict] = []
    best = {"val": -1.0, "epoch": 0, "state": None}
    start = 1
    if run_dir is not None and (run_dir / CHECKPOINT).is_file():
        ck = torch.load(run_dir / CHECKPOINT, weights_only=False, map_location=device)
        model.load_state_dict(ck["model"])
        objective.load_state_dict(ck["objective"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        gen.set_state(ck["generator"])
        _set_rng_states(ck["rng"])
        rows, best, start = ck["rows"], ck["best"], ck["epoch"] + 1

    feature_run = bool(objective.features)
    z_t_train = z_t_test = f_t_train = None
    if teacher is not None:
        z_t_test = predict_logits(teacher, splits.x_test)
        if feature_run:
            cached = teacher_features(teacher, splits.x_train, objective.teacher_paths)
            if cached is not None:
                z_t_train, f_t_train = cached
                feature_run = False  # every batch reads the cache: no teacher forward pass
        else:
            z_t_train = predict_logits(teacher, splits.x_train)
    meta = dict(meta or {})
    n = len(splits.x_train)
    bar = tqdm(range(start, train_cfg.epochs + 1), desc=desc, disable=not progress, leave=False, initial=start - 1,
               total=train_cfg.epochs)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        objective.train()
        lr = opt.param_groups[0]["lr"]
        sums = dict.fromkeys(("total", *objective.path_names), 0.0)
        correct = 0
        perm = torch.randperm(n, generator=gen).to(device)
        for i in range(0, n, train_cfg.batch_size):
            idx = perm[i : i + train_cfg.batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            x, y = splits.x_train[idx], splits.y_train[idx]
            f_t: dict = {p: f[idx] for p, f in f_t_train.items()} if f_t_train is not None else {}
            if feature_run:
                with torch.no_grad(), capture(teacher, objective.teacher_paths, detach=True) as f_t:
                    z_t = teacher(x)
            else:
                z_t = z_t_train[idx] if z_t_train is not None else None
            with capture(model, objective.student_paths) as f_s:
                z_s = model(x)
            losses = objective.path_losses(z_s, y, z_t, f_s, f_t)
            total = objective.combine(losses, shared)
            if not torch.isfinite(total):
                bar.close()
                who = meta.get("learner", desc or "learner")
                raise TrainingDivergedError(
                    f"learner {who!r}: training loss is {float(total.detach())} at epoch {epoch} "
                    f"(batch {i // train_cfg.batch_size + 1}, lr {lr:g}); lower train.lr or check the data.")
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            b = len(idx)
            sums["total"] += total.item() * b
            for k, v in losses.items():
                sums[k] += v.item() * b
            correct += int((z_s.argmax(1) == y).sum())
        sched.step()
        z_val, z_test = predict_logits(model, splits.x_val), predict_logits(model, splits.x_test)
        row = {**meta, "epoch": epoch, "lr": lr}
        row.update({f"loss_{k}": v / n for k, v in sums.items()})
        row.update({f"weight_{k}": v for k, v in objective.aggregator.weights().items()})
        row.update(
            train_acc=correct / n,
            val_acc=accuracy(z_val, splits.y_val),
            test_acc=accuracy(z_test, splits.y_test),
            test_loss=float(nn.functional.cross_entropy(z_test, splits.y_test)),
            test_ece=expected_calibration_error(z_test, splits.y_test),
            agreement=agreement(z_test, z_t_test) if z_t_test is not None else float("nan"),
            seconds=time.perf_counter() - t0,
        )
        rows.append(row)
        score = row["val_acc"] if len(splits.y_val) else row["test_acc"]
        if score > best["val"]:
            best = {"val": score, "epoch": epoch, "state": {k: v.clone() for k, v in model.state_dict().items()}}
        bar.set_postfix(loss=f"{row['loss_total']:.3f}", val=f"{row['val_acc']:.3f}", test=f"{row['test_acc']:.3f}")
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows).to_parquet(run_dir / LOG, index=False)
            _save_atomic(
                {"model": model.state_dict(), "objective": objective.state_dict(), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "generator": gen.get_state(), "rng": _rng_states(),
                 "epoch": epoch, "rows": rows, "best": best},
                run_dir / CHECKPOINT,
            )
        if stop_after_epoch is not None and epoch >= stop_after_epoch and epoch < train_cfg.epochs:
            bar.close()
            return TrainResult(model.eval(), pd.DataFrame(rows), best["epoch"], best["state"], completed=False)
    bar.close()
    if run_dir is not None:
        _save_atomic({k: v.cpu() for k, v in model.state_dict().items()}, run_dir / FINAL)
        _save_atomic({k: v.cpu() for k, v in best["state"].items()}, run_dir / BEST)
    return TrainResult(model.eval(), pd.DataFrame(rows), best["epoch"], best["state"], completed=True)
