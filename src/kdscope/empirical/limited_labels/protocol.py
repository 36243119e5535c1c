"""Run the limited-label protocol: one stored teacher, students on label budgets, paired over seeds.

For seed s, the pool images of each class are permuted once with
``numpy.random.default_rng(s)``; budget n takes the first n of every class (``all``:
every pool image; its ``budget`` value is then the largest class size), so the
labelled sets of one seed are nested across budgets, and every learner of (budget,
seed) sees the same labelled images and starts from the same initialisation
(``torch.manual_seed(s)``): their accuracies are paired.  A transfer learner also
sees ``transfer_size`` unlabelled pool images (the rest of the pool, in the seed's
order), labelled only by the teacher.  The test set is a fixed class-balanced
``test_fraction`` of the official test split (generator seed 12345), the same for
every run.  All images are normalised with the pool's mean and std (as the teacher).

Teacher logits come from the teacher store's cache (one forward pass over the pool,
ever), so a student step never runs the teacher.  Each finished (budget, seed,
learner) cell is written to ``cells/`` and reused by a re-run with the same settings.

Run folder (``OUT``)::

    OUT/config.yaml        the resolved config          OUT/run.json   versions, teacher, device, wall time
    OUT/per_seed.csv/.parquet   one row per (budget, seed, learner): test accuracy, agreement, ...
    OUT/summary.csv/.parquet    one row per (learner, budget): mean, 95% CI, paired difference to alone
    OUT/cells/b<budget>/seed<s>/<learner>.json
    OUT/theory_practice.csv     with a ``theory:`` block: measured and predicted errors (:mod:`.theory`)

``classes: [a, b, ...]`` restricts pool and test set to those classes (relabelled 0, 1, ...),
the teacher included: it is trained on, and stored for, the pool of those classes.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from kdscope.empirical.config import to_dict
from kdscope.empirical.data import class_balanced_indices, load_raw, select_classes
from kdscope.empirical.limited_labels.config import LimitedLabelConfig, LimitedLearner, StudentSchedule
from kdscope.empirical.limited_labels.summary import summarize_limited, write_summary
from kdscope.empirical.losses import SOFT_LOSSES
from kdscope.empirical.metrics import accuracy, agreement, predict_logits
from kdscope.empirical.models import build_model
from kdscope.empirical.teacher_store import DEFAULT_ROOT, TeacherSpec, get_teacher, teacher_outputs
from kdscope.empirical.train import TrainingDivergedError

TEST_SEED = 12345


@dataclass(frozen=True)
class LimitedLabelResult:
    """What :func:`run_limited_labels` returns."""

    out_dir: Path
    per_seed: pd.DataFrame
    summary: pd.DataFrame
    teacher_acc: float
    teacher_key: str
    seconds: float
    theory_practice: pd.DataFrame | None = None


def budget_indices(y_pool: np.ndarray, seed: int) -> list[np.ndarray]:
    """Per class, the pool indices of that class in the seed's random order (budgets take prefixes)."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.flatnonzero(y_pool == c)) for c in np.unique(y_pool)]


def labelled_and_transfer(order: list[np.ndarray], n: int, transfer_size: int | None,
                          seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labelled indices (first ``n`` of each class) and the transfer set (the rest, seeded order, capped)."""
    lab = np.sort(np.concatenate([o[:n] for o in order]))
    rest = np.concatenate([o[n:] for o in order])
    rest = np.random.default_rng([seed, 1]).permutation(rest)
    if transfer_size is not None:
        rest = rest[:transfer_size]
    return lab, rest


def _batches(n: int, size: int, steps: int, gen: torch.Generator) -> torch.Tensor:
    """(steps, size) indices into range(n): consecutive seeded permutations (epochs), cut into batches."""
    size = min(size, n)
    need = steps * size
    perms = [torch.randperm(n, generator=gen) for _ in range(math.ceil(need / n))]
    return torch.cat(perms)[:need].view(steps, size)


def train_student(
    learner: LimitedLearner,
    model,
    schedule: StudentSchedule,
    x_lab: torch.Tensor,
    y_lab: torch.Tensor,
    z_lab: torch.Tensor | None,
    x_tr: torch.Tensor | None,
    z_tr: torch.Tensor | None,
    *,
    seed: int,
    label: str = "",
) -> dict:
    """Train ``model`` in place for ``schedule.steps`` steps; returns {final_loss, epochs_labelled}.

    Loss per step: ``(1 - xi) CE(z(x_b), y_b) + xi soft(z(x_b ++ x_t), z_T(x_b ++ x_t), tau)``,
    x_b a labelled batch, x_t a transfer batch (transfer learners only), one forward pass.

    Raises
    ------
    TrainingDivergedError
        At the first non-finite loss, naming the learner, the labelled-set epoch and the step.
    """
    device = x_lab.device
    gen = torch.Generator().manual_seed(seed)
    n_lab = len(y_lab)
    lab_batches = _batches(n_lab, schedule.batch_size, schedule.steps, gen).to(device)
    use_tr = learner.transfer and x_tr is not None and len(x_tr) > 0
    tr_batches = _batches(len(x_tr), schedule.transfer_batch_size, schedule.steps, gen).to(device) if use_tr else None
    params = list(model.parameters())
    if schedule.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=schedule.lr, momentum=schedule.momentum, weight_decay=schedule.weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=schedule.lr, weight_decay=schedule.weight_decay)
    steps = schedule.steps
    cosine = schedule.scheduler == "cosine"
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, (lambda t: 0.5 * (1 + math.cos(math.pi * t / steps))) if cosine else (lambda t: 1.0))
    soft = SOFT_LOSSES.get(learner.loss) if learner.xi > 0 else None
    model.train()
    recent = []
    for step in range(steps):
        idx = lab_batches[step]
        x, y = x_lab[idx], y_lab[idx]
        if use_tr:
            tidx = tr_batches[step]
            z_all = model(torch.cat([x, x_tr[tidx]]))
            z = z_all[: len(idx)]
            z_t = torch.cat([z_lab[idx], z_tr[tidx]])
        else:
            z = z_all = model(x)
            z_t = z_lab[idx] if soft is not None else None
        loss = torch.nn.functional.cross_entropy(z, y)
        if soft is not None:
            loss = (1.0 - learner.xi) * loss + learner.xi * soft(z_all, z_t, learner.tau)
        if not torch.isfinite(loss):
            epoch = step * len(idx) // n_lab + 1
            raise TrainingDivergedError(
                f"learner {learner.name!r}{label}: training loss is {float(loss.detach())} at epoch {epoch} "
                f"(step {step + 1} of {steps}, lr {sched.get_last_lr()[0]:g}); lower schedule.lr or check the data.")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step >= steps - max(1, steps // 10):
            recent.append(float(loss.detach()))
    model.eval()
    return {"final_loss": float(np.mean(recent)), "epochs_labelled": steps * min(schedule.batch_size, n_lab) / n_lab}


def _cell_key(cfg: LimitedLabelConfig, learner: LimitedLearner, teacher_key: str) -> str:
    blob = json.dumps({"learner": asdict(learner), "schedule": asdict(cfg.schedule), "student": asdict(cfg.student),
                       "teacher": teacher_key, "transfer_size": cfg.transfer_size, "dataset": cfg.dataset,
                       "classes": cfg.classes,
                       "test_fraction": cfg.test_fraction}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_limited_labels(
    cfg: LimitedLabelConfig,
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    teacher_root: str | Path = DEFAULT_ROOT,
    device: str | torch.device = "cpu",
    quick: bool = False,
    progress: bool = False,
    echo: Callable[[str], None] | None = print,
) -> LimitedLabelResult:
    """Train the stored teacher if needed, then every (budget, seed, learner) student; write the tables.

    Raises
    ------
    DatasetNotFoundError
        Before any training, if the data set's files are missing.
    ValueError
        If a budget asks for more labelled images per class than the pool holds.
    TrainingDivergedError
        If a loss becomes NaN or infinite (the message names learner, budget, seed and epoch).
    """
    t_start = time.perf_counter()
    device = torch.device(device)
    say = echo or (lambda _m: None)
    out = Path(out_dir)
    raw = load_raw(cfg.dataset, data_dir)
    if cfg.classes is not None:
        raw = select_classes(raw, cfg.classes)
    per_class = int(np.bincount(raw.y_pool).min())
    largest = int(np.bincount(raw.y_pool).max())  # 'all': every pool image, whatever the class sizes
    too_big = [b for b in cfg.budgets if b != "all" and b > per_class]
    if too_big:
        raise ValueError(f"'budgets' {too_big} exceed the {per_class} pool images per class of {cfg.dataset}.")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    spec = TeacherSpec(raw.name, cfg.teacher.model, cfg.teacher.train, seed=cfg.teacher.seed)
    teacher = get_teacher(spec, raw, root=teacher_root, device=device, progress=progress, echo=echo)
    say(f"teacher {teacher.key}: test accuracy {teacher.test_acc:.4f} "
        f"({'trained now' if teacher.trained_now else 'from the store'}, {teacher.folder})")
    mean, std = teacher.mean, teacher.std
    norm = lambda a: torch.from_numpy((a - mean) / std).to(device)  # noqa: E731
    x_pool, y_pool = norm(raw.x_pool), torch.from_numpy(raw.y_pool).to(device)
    idx_test = class_balanced_indices(raw.y_test, cfg.test_fraction, np.random.default_rng(TEST_SEED))
    x_test, y_test = norm(raw.x_test[idx_test]), torch.from_numpy(raw.y_test[idx_test]).to(device)
    z_pool = None
    if any(x.xi > 0 for x in cfg.learners):
        z_pool = teacher_outputs(teacher, raw, np.arange(len(raw.y_pool)), device=device)[0].to(device)
    z_test_teacher = predict_logits(teacher.model, x_test)
    teacher_test_acc = accuracy(z_test_teacher, y_test)
    meta = {"experiment": cfg.name, "protocol": cfg.protocol, "quick": quick, "device": str(device),
            "torch_version": torch.__version__, "threads": torch.get_num_threads(),
            "python": platform.python_version(), "teacher_key": teacher.key, "teacher_folder": str(teacher.folder),
            "teacher_test_acc_full": teacher.test_acc, "teacher_test_acc": teacher_test_acc,
            "data_dir": str(data_dir) if data_dir else None, "n_test": len(idx_test)}
    (out / "run.json").write_text(json.dumps(meta, indent=2))
    keys = {x.name: _cell_key(cfg, x, teacher.key) for x in cfg.learners}
    rows = []
    for seed in cfg.seeds:
        order = budget_indices(raw.y_pool, seed)
        for budget in cfg.budgets:
            n = largest if budget == "all" else int(budget)
            lab, rest = labelled_and_transfer(order, n, cfg.transfer_size, seed)
            for learner in cfg.learners:
                cell = out / "cells" / f"b{budget}" / f"seed{seed}" / f"{learner.name}.json"
                if cell.is_file():
                    saved = json.loads(cell.read_text())
                    if saved.get("key") == keys[learner.name]:
                        rows.append(saved["row"])
                        continue
                t0 = time.perf_counter()
                torch.manual_seed(seed)
                model = build_model(cfg.student.arch, cfg.student.width, cfg.student.depth, raw.n_classes,
                                    int(raw.x_pool.shape[1])).to(device)
                has_tr = learner.transfer and len(rest) > 0
                stats = train_student(
                    learner, model, cfg.schedule, x_pool[lab], y_pool[lab],
                    z_pool[lab] if z_pool is not None else None,
                    x_pool[rest] if has_tr else None, z_pool[rest] if has_tr else None,
                    seed=seed, label=f" (budget {budget}/class, seed {seed})")
                z = predict_logits(model, x_test)
                row = {"condition": "base", "budget": n, "budget_label": str(budget), "seed": seed,
                       "learner": learner.name, "xi": learner.xi,
                       "loss": learner.loss if learner.xi > 0 else "ce",
                       "tau": learner.tau if (learner.xi > 0 and learner.loss == "kl") else float("nan"),
                       "transfer": bool(has_tr),
                       "kd_data": "labelled+transfer" if has_tr else ("labelled" if learner.xi > 0 else "none"),
                       "n_labelled": len(lab), "n_transfer": len(rest) if has_tr else 0,
                       "steps": cfg.schedule.steps, "batch_size": cfg.schedule.batch_size,
                       "test_acc": accuracy(z, y_test), "agreement": agreement(z, z_test_teacher),
                       **stats, "seconds": time.perf_counter() - t0}
                cell.parent.mkdir(parents=True, exist_ok=True)
                cell.write_text(json.dumps({"key": keys[learner.name], "row": row}))
                rows.append(row)
                say(f"[budget {budget:>4}/class seed {seed}] {learner.name:<18s} test acc {row['test_acc']:.4f}  "
                    f"agreement {row['agreement']:.4f}  ({row['seconds']:.1f} s)")
    per_seed = pd.DataFrame(rows)
    per_seed.to_parquet(out / "per_seed.parquet", index=False)
    per_seed.to_csv(out / "per_seed.csv", index=False)
    summary = summarize_limited(per_seed, reference=cfg.reference)
    seconds = time.perf_counter() - t_start
    settings = {**meta, "config": to_dict(cfg), "wall_seconds": seconds, "reference": cfg.reference}
    write_summary(summary, out, settings)
    theory = None
    if cfg.theory is not None:
        from kdscope.empirical.limited_labels.theory import theory_practice_table

        theory, mixture = theory_practice_table(cfg, summary, raw, 1.0 - teacher_test_acc)
        theory.to_csv(out / "theory_practice.csv", index=False)
        meta["mixture"] = {"d": mixture.d, "delta": mixture.delta, "rho": mixture.rho, "whiten": mixture.whiten,
                           "pca_explained": mixture.explained, "n_pool": int(len(raw.y_pool))}
        say(f"mixture fitted to the pool of {raw.name}: d={mixture.d}, delta={mixture.delta:.4g}, "
            f"rho={mixture.rho:.3f}; theory at alpha_T = {len(raw.y_pool) / mixture.d:.4g}")
        seconds = time.perf_counter() - t_start
    (out / "run.json").write_text(json.dumps({**meta, "wall_seconds": seconds}, indent=2))
    return LimitedLabelResult(out, per_seed, summary, teacher_test_acc, teacher.key, seconds, theory)
