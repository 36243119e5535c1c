"""Benchmark: a 10-seed teacher + student (kl) simulation at d = 1000, alpha = 2, vs scikit-learn.

kdscope: ``simulate(Setting(alpha=2, lam_t=0.1, generations=1, xi=1, lam_s=0.01), d=1000, seeds=10)``,
i.e. per seed: draw, exact teacher (logistic + ridge) and student (KL) training to
|grad| <= 1e-10 (1 + |theta|), and the responses V_t, V_s, V_st (inverse Hessians).

scikit-learn: a plain loop of ``LogisticRegression(C=1/lam_t)`` fits of the same 10 teachers
(same data), with the default tol = 1e-4 and with tol = 1e-8; the error of m_t and q_t against
the exact fit is printed to show what each tolerance buys.  scikit-learn has no KL student
and no response, so it does strictly less work.

Usage: python benchmarks/bench_simulations.py [--d 1000] [--seeds 10]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()

    from kdscope.simulations import simulate, train_chain
    from kdscope.theory import Setting

    s = Setting(alpha=2.0, lam_t=0.1, generations=1, xi=1.0, lam_s=0.01)
    print(f"bench_simulations: d={args.d}, seeds={args.seeds}, alpha={s.alpha}, lam_t={s.lam_t}, "
          f"student kl xi=1 lam_s={s.lam_s}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")

    t0 = time.perf_counter()
    r = simulate(s, d=args.d, seeds=args.seeds)
    t_kd = time.perf_counter() - t0
    print(f"  kdscope simulate (teacher + student + V): {t_kd:7.2f} s  "
          f"({t_kd / args.seeds:.2f} s/seed; converged {r['n_converged']}/{args.seeds}); "
          f"eps_t={r['eps_t']:.4f}+-{r['eps_t_se']:.4f}, eps_s={r['eps_s']:.4f}+-{r['eps_s_se']:.4f}")

    t0 = time.perf_counter()
    chains = [train_chain(s.replace(generations=0), args.d, seed) for seed in range(args.seeds)]
    t_t = time.perf_counter() - t0
    print(f"  kdscope teachers only (exact fit + V):   {t_t:7.2f} s")

    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:  # pragma: no cover
        print("  scikit-learn not installed: skipped")
        return
    for tol in (1e-4, 1e-8):
        t_sk, dm, dq = 0.0, [], []
        for ch in chains:
            A = ch.teacher_data.X / np.sqrt(args.d)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf = LogisticRegression(C=1.0 / s.lam_t, tol=tol, max_iter=100000).fit(A, ch.teacher_data.y_obs)
            t_sk += time.perf_counter() - t0
            w, w_exact = clf.coef_[0], ch.learners[0].w
            dm.append(abs(w @ ch.mu - w_exact @ ch.mu) / args.d)
            dq.append(abs(w @ w - w_exact @ w_exact) / args.d)
        print(f"  sklearn LogisticRegression tol={tol:.0e} (teachers only): {t_sk:7.2f} s; "
              f"max |dm_t|={max(dm):.1e}, max |dq_t|={max(dq):.1e} vs the exact fit")


if __name__ == "__main__":
    main()
