"""Benchmark: a 10-seed teacher + student (kl) simulation at d = 1000 vs scikit-learn, and its peak memory.

Case: ``Setting(alpha=2, lam_t=0.1, generations=1, xi=1, lam_s=0.01)`` (logistic teacher,
KL student at tau = 1), seeds 0..9, d = 1000, i.e. per seed n = 2000 samples.

kdscope: ``simulate(s, d, seeds)``: per seed the draw, the exact teacher and student fits
(|grad| <= 1e-10 (1 + |theta|)) and every observable, in three variants: training only
(``responses=False``, the work scikit-learn does), with the responses V_t, V_s (trace of the
inverse Hessians, ``cross=False``), and with the cross response V_st as well (the default).

scikit-learn: a plain loop over the same draws: ``LogisticRegression(C=1/lam_t, tol)`` for the
teacher, then the student as the same model on the soft labels of the teacher
(each sample twice, labels +1 and -1 with weights sigmoid(z_t) and 1 - sigmoid(z_t): with
tau = 1 this is exactly the KL objective up to a constant), ``C = 1/lam_s``.  Two solvers:
``newton-cholesky`` at tol = 1e-10, which reaches kdscope's tolerance (the same fits to the
same accuracy), and the default L-BFGS at ``--tol`` (1e-8), which stops on
``max |grad of the mean loss| <= tol`` or on a relative decrease of 64 eps in the objective and
so ends near a relative gradient of 1e-6: a looser fit than kdscope's.  Each line prints the worst
relative gradient |grad| / (1 + |theta|) scikit-learn reached (kdscope: <= 1e-10).

Targets (issue 10, item 5): kdscope's time <= 0.5 x scikit-learn's for the same fits, and
peak memory of a d = 4000 simulation (one seed, tracemalloc, which counts numpy arrays)
<= 3 x the bytes of its (n, d) data matrix.  Timings are wall and CPU seconds of this
process (CPU time is the fairer measure on a shared machine: other processes stretch wall time);
the load average is printed because other processes on the machine slow both sides.

Usage: python benchmarks/bench_simulations.py [--d 1000] [--seeds 10] [--tol 1e-8]
       [--threads N (default: the machine's cores)] [--mem-d 4000 (0 skips)]
"""

from __future__ import annotations

import argparse
import math
import os
import time
import tracemalloc
import warnings

import numpy as np

SPEED_RATIO = 0.5
MEMORY_COPIES = 3.0


class Clock:
    """Wall and CPU seconds of a block (CPU: this process, all its BLAS threads)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def sklearn_loop(s, d: int, seeds: list[int], solver: str, tol: float):
    """Teacher + KL student per seed with scikit-learn on kdscope's draws; (clock, worst relative gradient)."""
    from scipy.special import expit
    from sklearn.linear_model import LogisticRegression

    from kdscope.simulations.data import draw_mean, draw_samples

    def rel_grad(A, y, sw, lam, clf):
        w, b = clf.coef_[0], clf.intercept_[0]
        r = -sw * y * expit(-y * (A @ w + b))
        g = np.append(A.T @ r + lam * w, r.sum())
        return np.linalg.norm(g) / (1 + np.linalg.norm(np.append(w, b)))

    worst, total = 0.0, Clock()
    total.wall = total.cpu = 0.0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        mu = draw_mean(rng, d)
        data = draw_samples(rng, mu, round(s.alpha * d), s.delta, s.rho, s.theta)
        with Clock() as c, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            A = data.X / math.sqrt(d)
            y = data.y_obs
            teacher = LogisticRegression(C=1.0 / s.lam_t, tol=tol, solver=solver, max_iter=100000).fit(A, y)
            p = expit(A @ teacher.coef_[0] + teacher.intercept_[0])
            A2, y2, sw = np.vstack([A, A]), np.r_[np.ones_like(y), -np.ones_like(y)], np.r_[p, 1.0 - p]
            student = LogisticRegression(C=1.0 / s.lam_s, tol=tol, solver=solver,
                                         max_iter=100000).fit(A2, y2, sample_weight=sw)
        total.wall += c.wall
        total.cpu += c.cpu
        worst = max(worst, rel_grad(A, y, np.ones_like(y), s.lam_t, teacher),
                    rel_grad(A2, y2, sw, s.lam_s, student))
    return total, worst


def peak_copies(s, d: int) -> tuple[float, float]:
    """(peak traced bytes / bytes of X, seconds) of one seed at dimension d."""
    from kdscope.simulations import simulate_once

    simulate_once(s, 50, 0)  # imports and caches outside the measurement
    tracemalloc.start()
    with Clock() as c:
        simulate_once(s, d, 0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / (round(s.alpha * d) * d * 8), c.wall


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--tol", type=float, default=1e-8, help="tol of scikit-learn's L-BFGS loop")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--mem-d", type=int, default=4000, help="dimension of the memory measurement (0 skips it)")
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits

    from kdscope.simulations import simulate
    from kdscope.theory import Setting

    s = Setting(alpha=2.0, lam_t=0.1, generations=1, xi=1.0, lam_s=0.01)
    seeds = list(range(args.seeds))
    with threadpool_limits(limits=args.threads):
        print(f"bench_simulations: d={args.d}, n={round(s.alpha * args.d)}, seeds={args.seeds}, lam_t={s.lam_t}, "
              f"student kl xi=1 tau=1 lam_s={s.lam_s}; BLAS threads={args.threads} of {os.cpu_count()} cores; "
              f"{load()}")
        simulate(s, d=50, seeds=1)  # imports outside the clocks
        variants = (("training only (responses=False)", dict(responses=False)),
                    ("+ V_t, V_s (cross=False)", dict(cross=False)),
                    ("+ V_t, V_s, V_st (the default)", dict()))
        clocks = []
        for name, kwargs in variants:
            with Clock() as c:
                r = simulate(s, d=args.d, seeds=seeds, **kwargs)
            clocks.append(c)
            print(f"  kdscope simulate, {name:33s} wall {c.wall:7.2f} s  cpu {c.cpu:7.2f} s  "
                  f"(converged {r['n_converged']}/{args.seeds}; eps_t={r['eps_t']:.4f}, eps_s={r['eps_s']:.4f}, "
                  f"V_s={r['V_s']:.3f}, V_st={r['V_st']:.3f})")
        for solver, tol in (("newton-cholesky", 1e-10), ("lbfgs", args.tol)):
            try:
                sk, worst = sklearn_loop(s, args.d, seeds, solver, tol)
            except ImportError:  # pragma: no cover
                print("  scikit-learn not installed: speed target not measured")
                break
            print(f"  scikit-learn loop, {solver} tol={tol:.0e}, teacher + student:  wall {sk.wall:7.2f} s  "
                  f"cpu {sk.cpu:7.2f} s  (worst |grad|/(1+|theta|) = {worst:.1e}; kdscope <= 1e-10)")
            for (name, _), c in zip(variants, clocks):
                ratio, ratio_cpu = c.wall / sk.wall, c.cpu / sk.cpu
                print(f"    target speed vs {solver}, {name:33s} kdscope / scikit-learn = {ratio:.2f} wall "
                      f"({verdict(ratio <= SPEED_RATIO)}), {ratio_cpu:.2f} cpu ({verdict(ratio_cpu <= SPEED_RATIO)}); "
                      f"target <= {SPEED_RATIO}")
        print(f"  {load()}")
        if args.mem_d > 0:
            copies, secs = peak_copies(s, args.mem_d)
            print(f"  target memory: peak of one seed at d={args.mem_d} = {copies:.2f} x nbytes(X) "
                  f"(<= {MEMORY_COPIES:g}): {verdict(copies <= MEMORY_COPIES)}  ({secs:.0f} s; {load()})")


if __name__ == "__main__":
    main()
