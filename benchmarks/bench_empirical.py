"""Training throughput (images/s) of the empirical side: teacher, student alone, distilled student.

Times optimiser steps on 28x28 one-channel batches (Fashion-MNIST's shape; random pixels,
so no data set is needed) for the models of ``experiments/limited_labels.yaml`` (full
and ``--quick``):

- teacher: cross-entropy step of the teacher model;
- student CE: the student trained alone;
- student KD, cached logits: a KL step whose teacher logits come from the teacher store's
  cache (what the limited-label protocol does: no teacher forward pass per step);
- student KD, live teacher: the same step running the teacher forward on every batch
  (what feature paths such as hints still need) - the "before" of the cache;
- each also with ``channels_last`` memory format, to see whether it helps on this device;
- eval: forward-only throughput of the student in batches of 1024.

Usage: ``python benchmarks/bench_empirical.py [--device cpu|cuda|mps|auto] [--threads N]
[--batch 64] [--seconds 2]``.  Timings depend on what else runs on the machine
(DESIGN.md: torch slows down 7-8x when another busy process competes for the cores):
print the load average (``uptime``) next to them.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from kdscope.empirical.devices import resolve_device
from kdscope.empirical.limited_labels import load_limited_labels
from kdscope.empirical.losses import kd_kl
from kdscope.empirical.models import build_model, count_parameters

CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "limited_labels.yaml"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def throughput(step, batch: int, seconds: float, device: torch.device) -> float:
    """Images per second of ``step()`` (one optimiser step on ``batch`` images), after 3 warm-up steps."""
    for _ in range(3):
        step()
    _sync(device)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    _sync(device)
    return n * batch / (time.perf_counter() - t0)


def bench_model(cfg_model, teacher_cfg, batch: int, seconds: float, device: torch.device, channels_last: bool):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    torch.manual_seed(0)
    x = torch.randn(batch, 1, 28, 28, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), device=device)
    z_cached = torch.randn(batch, 10, device=device)
    teacher = build_model(teacher_cfg.arch, teacher_cfg.width, teacher_cfg.depth, 10).to(device, memory_format=fmt)
    student = build_model(cfg_model.arch, cfg_model.width, cfg_model.depth, 10).to(device, memory_format=fmt)
    teacher.eval()

    def make_step(model, kind):
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step():
            z = model(x)
            if kind == "ce":
                loss = torch.nn.functional.cross_entropy(z, y)
            else:
                if kind == "kd_live":
                    with torch.no_grad():
                        z_t = teacher(x)
                else:
                    z_t = z_cached
                loss = 0.1 * torch.nn.functional.cross_entropy(z, y) + 0.9 * kd_kl(z, z_t, 4.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    out = {
        "teacher": throughput(make_step(build_model(teacher_cfg.arch, teacher_cfg.width, teacher_cfg.depth, 10)
                                        .to(device, memory_format=fmt), "ce"), batch, seconds, device),
        "student CE": throughput(make_step(student, "ce"), batch, seconds, device),
        "student KD, cached logits": throughput(make_step(student, "kd_cached"), batch, seconds, device),
        "student KD, live teacher": throughput(make_step(student, "kd_live"), batch, seconds, device),
    }
    xe = torch.randn(1024, 1, 28, 28, device=device).contiguous(memory_format=fmt)
    student.eval()
    with torch.no_grad():
        out["student eval"] = throughput(lambda: student(xe), 1024, seconds, device)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device {device}, torch threads {torch.get_num_threads()}, batch {args.batch}, load average {load:.2f}")
    for quick in (True, False):
        cfg = load_limited_labels(CONFIG, quick=quick)
        t, s = cfg.teacher.model, cfg.student
        n_t = count_parameters(build_model(t.arch, t.width, t.depth, 10))
        n_s = count_parameters(build_model(s.arch, s.width, s.depth, 10))
        print(f"\nlimited_labels{' --quick' if quick else ''}: teacher {t.arch}(width={t.width}, depth={t.depth}) "
              f"{n_t} params, student {s.arch}(width={s.width}, depth={s.depth}) {n_s} params")
        for channels_last in (False, True):
            res = bench_model(s, t, args.batch, args.seconds, device, channels_last)
            tag = "channels_last" if channels_last else "contiguous   "
            print(f"  {tag} " + "  ".join(f"{k}: {v:,.0f} img/s" for k, v in res.items()))


if __name__ == "__main__":
    main()
