"""Benchmark: single saddle points and warm-started curves, NumPy (and JAX when installed).

Cases (reference-paper defaults delta = 1, rho = 0.2; students eta = 0.5, KL at tau = 1, xi = 1, lam_s = 1e-3):
  * one K = 1 logistic point at several (alpha, lam): median over repeats, cold start;
  * a 50-point K = 1 curve in alpha (continuation, ``solve_curve``);
  * one K = 2 KD point (teacher lam_t = 0.1): median over repeats;
  * a 50-point KD curve in alpha.
Targets (DESIGN.md section 3): K = 1 point <= 5 ms, K = 2 point <= 100 ms.
The JAX backend is timed after compilation (compile time printed separately).

Usage: python benchmarks/bench_theory.py [--repeats 7] [--no-jax]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

TARGET_K1_MS = 5.0
TARGET_K2_MS = 100.0


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def _verdict(ms: float, target: float) -> str:
    return f"{ms:9.2f} ms  target {target:6.1f} ms  ratio {ms / target:5.2f}  {'OK' if ms <= target else 'MISS'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-jax", action="store_true")
    args = ap.parse_args()

    from kdscope.theory import Setting, solve, solve_curve

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_theory: {os.cpu_count()} cores, load average {load:.2f}, repeats={args.repeats}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    k1_points = [(0.5, 0.01), (2.0, 0.1), (5.0, 0.001), (10.0, 1.0)]
    kd = dict(rho=0.2, eta=0.5, generations=1, xi=1.0, lam_s=1e-3, lam_t=0.1)
    alphas = np.geomspace(0.3, 10.0, 50)

    print("NumPy backend (theory.solve)")
    k1 = []
    for a, lam in k1_points:
        s = Setting(alpha=a, lam_t=lam, rho=0.2)
        solve(s)  # warm caches (quadrature nodes)
        ms = _median_ms(lambda: solve(s), args.repeats)
        k1.append(ms)
        print(f"  K=1 point alpha={a:<5} lam={lam:<6}  {_verdict(ms, TARGET_K1_MS)}")
    print(f"  K=1 point median over the {len(k1)} points: {_verdict(statistics.median(k1), TARGET_K1_MS)}")
    t0 = time.perf_counter()
    sps = solve_curve(Setting(lam_t=0.1, rho=0.2), "alpha", alphas)
    t = time.perf_counter() - t0
    print(f"  K=1 curve, 50 points: {1e3 * t:8.1f} ms total, {1e3 * t / 50:6.2f} ms/point "
          f"({sum(sp.converged for sp in sps)}/50 converged)")
    s2 = Setting(alpha=2.0, **kd)
    solve(s2)
    ms2 = _median_ms(lambda: solve(s2), args.repeats)
    print(f"  K=2 KD point alpha=2: {_verdict(ms2, TARGET_K2_MS)}")
    t0 = time.perf_counter()
    sps = solve_curve(s2, "alpha", alphas)
    t = time.perf_counter() - t0
    print(f"  K=2 KD curve, 50 points: {1e3 * t:8.1f} ms total, {1e3 * t / 50:6.2f} ms/point "
          f"({sum(sp.converged for sp in sps)}/50 converged)")

    if args.no_jax:
        return
    try:
        from kdscope.theory.jax_backend import solve_batch_jax, solve_lines_jax
    except ImportError:
        print("JAX not installed: skipped (pip install 'kdscope[jax]')")
        return
    print("JAX backend (theory.jax_backend, one jitted call per point)")
    for label, s, target in (("K=1 point alpha=2 lam=0.1", Setting(alpha=2.0, lam_t=0.1, rho=0.2), TARGET_K1_MS),
                             ("K=2 KD point alpha=2", s2, TARGET_K2_MS)):
        t0 = time.perf_counter()
        solve_batch_jax([s])
        compile_s = time.perf_counter() - t0
        ms = _median_ms(lambda: solve_batch_jax([s]), args.repeats)
        print(f"  {label:<26} {_verdict(ms, target)}   (first call incl. compilation {compile_s:.1f} s)")
    for label, base in (("K=1", Setting(lam_t=0.1, rho=0.2)), ("K=2 KD", s2)):
        line = [base.replace(alpha=float(a)) for a in alphas]
        t0 = time.perf_counter()
        out = solve_lines_jax([line])[0]
        t = time.perf_counter() - t0
        print(f"  {label} curve, 50 points: {1e3 * t:8.1f} ms total, {1e3 * t / 50:6.2f} ms/point "
              f"({sum(sp.converged for sp in out)}/50 converged)")


if __name__ == "__main__":
    main()
