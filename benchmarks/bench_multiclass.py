"""Benchmark: multi-class saddle points (NumPy), wall and CPU time, medians over repeats.

Cases (alpha = 2, delta = 1, pi = (0.5, 0.3, 0.2), lam_t = 0.1; students lam_s = 0.01, xi = 1, KL at tau = 2):
  * C = 3 teacher alone (K = 1, 2-D integrals, order 40);
  * C = 3 KD point (K = 2, 4-D integrals, default orders (24, 6)), simplex and hierarchical G (r = 0.8);
  * C = 2 KD point (the binary reduction, 2-D integrals).
Each solve includes the finer-rule accuracy check and the observables (orthant probabilities).
Target (issue 13): a C = 3, K = 2 KD point <= 10 s with NumPy.  On a shared machine the wall time
follows the load average (printed); the CPU time of this process is the load-independent figure.

Usage: python benchmarks/bench_multiclass.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

TARGET_KD_S = 10.0


def _median(fn, repeats: int) -> tuple[float, float, object]:
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from kdscope.theory.multiclass import MulticlassSetting, hierarchical_gram, solve_multiclass

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_multiclass: {os.cpu_count()} cores, load average {load:.2f}, repeats={args.repeats}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    base = dict(pi=(0.5, 0.3, 0.2), alpha=2.0, delta=1.0, lam_t=0.1)
    kd = dict(generations=1, xi=1.0, tau=2.0, soft="kl", lam_s=0.01)
    cases = [
        ("C=3 teacher (simplex)", MulticlassSetting(classes=3, **base), None),
        ("C=3 KD point (simplex)", MulticlassSetting(classes=3, **base, **kd), TARGET_KD_S),
        ("C=3 KD point (hier:0.8)", MulticlassSetting(classes=3, gram=hierarchical_gram(3, 0.8), **base, **kd),
         TARGET_KD_S),
        ("C=2 KD point", MulticlassSetting(classes=2, pi=(0.3, 0.7), alpha=2.0, lam_t=0.1, **kd), None),
    ]
    for name, s, target in cases:
        wall, cpu, sp = _median(lambda: solve_multiclass(s), args.repeats)
        verdict = "" if target is None else f"  target {target:.0f} s  {'OK' if wall <= target else 'MISS'} (wall)"
        print(f"{name:<26} wall {wall:7.2f} s  cpu {cpu:7.2f} s  iterations {sp.n_iter:3d}  "
              f"quad_error {sp.quad_error:.1e}  order {sp.order}{verdict}")


if __name__ == "__main__":
    main()
