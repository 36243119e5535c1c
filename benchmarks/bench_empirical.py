"""Seconds per epoch of teacher and student on the Fashion-MNIST quick configuration.

Reads ``experiments/kl_vs_mse.yaml`` with its ``quick:`` block, draws the splits of
seed 0, and times full epochs (training pass + validation and test evaluation) of
the teacher (cross-entropy) and of a KL student (teacher logits cached), printing
seconds per epoch, the per-image training cost and the projected time of the
quick run.  Usage: ``python benchmarks/bench_empirical.py [--epochs 2] [--threads N]
[--data-dir DIR]``.  Timings depend on what else runs on the machine (DESIGN.md:
torch slows down 7-8x when another busy process competes for the cores).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from kdscope.empirical.config import load_experiment
from kdscope.empirical.data import DatasetNotFoundError, load_raw, make_splits
from kdscope.empirical.models import build_model, count_parameters
from kdscope.empirical.train import train_learner

CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "kl_vs_mse.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_experiment(CONFIG, quick=True)
    try:
        raw = load_raw(cfg.data.dataset, args.data_dir)
    except DatasetNotFoundError as exc:
        print(f"skipped: {exc}")
        return
    d = cfg.data
    splits = make_splits(raw, train_fraction=d.train_fraction, val_fraction=d.val_fraction,
                         test_fraction=d.test_fraction, theta=d.theta, noise=d.noise, seed=0)
    print(f"Fashion-MNIST quick: {len(splits.x_train)} train, {len(splits.x_val)} val, {len(splits.x_test)} test "
          f"images; torch threads {torch.get_num_threads()}")
    student_cfg = next(s for s in cfg.students if s.xi > 0)
    per_epoch = {}
    teacher_model = None
    for role, spec, s_cfg in (("teacher", cfg.teacher, None), ("student", student_cfg, student_cfg)):
        m = cfg.models[spec.model]
        n_params = count_parameters(build_model(m.arch, m.width, m.depth, splits.n_classes, splits.in_channels))
        train = cfg.train_of(spec)
        bench = type(train)(**{**train.__dict__, "epochs": args.epochs})
        t0 = time.perf_counter()
        res = train_learner(m, splits, bench, seed=0, student_cfg=s_cfg, teacher=teacher_model, progress=False)
        wall = time.perf_counter() - t0
        epoch_s = float(res.log["seconds"].median())
        per_epoch[role] = epoch_s
        print(f"{role:8s} {m.arch}(width={m.width}, depth={m.depth}) {n_params:>7d} params: "
              f"{epoch_s:6.2f} s/epoch ({1e3 * epoch_s / len(splits.x_train):.2f} ms/train image incl. eval), "
              f"{wall:.1f} s for {args.epochs} epochs incl. setup")
        if role == "teacher":
            teacher_model = res.model
    n_students = len(cfg.students)
    projected = len(cfg.seeds) * (per_epoch["teacher"] * cfg.train_of(cfg.teacher).epochs
                                  + n_students * per_epoch["student"] * cfg.train.epochs)
    print(f"projected quick kl_vs_mse run: {len(cfg.seeds)} seeds x (teacher + {n_students} students) "
          f"~ {projected:.0f} s of training")


if __name__ == "__main__":
    main()
