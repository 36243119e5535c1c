"""Benchmark: a 100 x 100 KD phase diagram (NumPy vs JAX) and a 10-seed simulation vs scikit-learn.

Phase diagram: the (alpha, lam_t) grid of experiments/sweeps/phase_lam_t_100.yaml (KD student, eta = 0.5,
rho = 0.2, xi = 1, lam_s = 1e-3), theory points only, continuation along alpha, local processes.
By default a 20 x 20 sub-grid (every 5th value of each axis, so continuation steps are 5x longer
than in the full grid: conservative) is timed and the full 100 x 100 time extrapolated (x 25);
``--full`` times the full grid.  The derived gain of the full diagram adds 100 direct-student
optimisations (one per alpha; timed on the sub-grid's 20 and extrapolated x 5).
JAX runs after a warm-up that fills the persistent compilation cache (the cold compile time per
worker is printed separately).

Simulation: ``kdscope.simulations.simulate`` of a teacher + KL student (alpha = 2, rho = 0.2, eta = 0.5,
lam_t = 0.1, lam_s = 0.01, d = 1000, 10 seeds: exact Newton fits to |grad| <= 1e-10 and responses)
against a plain loop of scikit-learn ``LogisticRegression`` fits of the same teacher and student on
the same data (the KL student at tau = 1 as a weighted logistic regression on duplicated samples with
labels 1 and 0 and weights p_t, 1 - p_t), at tol = 1e-8 and at sklearn's default tol = 1e-4.

Targets: 100 x 100 diagram <= 10 min on 2 cores; simulation faster than the sklearn loop.

Store: a 20 x 20 K = 1 sweep, then the same sweep again with every point cached (the cost of the store itself).

Usage: python benchmarks/bench_sweeps.py [--workers 2] [--full] [--skip-jax] [--skip-sims] [--skip-phase]
       [--skip-store]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

TARGET_PHASE_S = 600.0
ROOT = Path(__file__).resolve().parents[1]


def _phase(workers: int, full: bool, backend: str, with_gain: bool) -> tuple[float, int, int, float]:
    """(seconds, points, converged, gain seconds) of the (sub-)grid on ``backend``."""
    from kdscope.store import ResultStore
    from kdscope.sweep import SweepSpec, load_sweep, sweep

    spec = load_sweep(ROOT / "experiments" / "sweeps" / "phase_lam_t_100.yaml")
    axes = dict(spec.axes)
    step = 1 if full else 5
    grid = {"lam_t": list(axes["lam_t"][::step]), "alpha": list(axes["alpha"][::step])}
    base = {k: v for k, v in spec.base.to_dict().items() if k not in grid}
    sub = SweepSpec.from_dict(dict(name=f"bench_{backend}", base=base, grid=grid, backend=backend))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        df = sweep(sub, store=ResultStore(tmp), executor="processes", workers=workers, progress=False)
        t = time.perf_counter() - t0
        t_gain = float("nan")
        if with_gain:
            gain = SweepSpec.from_dict(dict(name="bench_gain", base=base, grid={"lam_t": grid["lam_t"][:1],
                                                                                  "alpha": grid["alpha"]},
                                            derived=["gain"], backend="numpy"))
            t0 = time.perf_counter()
            sweep(gain, store=ResultStore(tmp), executor="processes", workers=workers, progress=False)
            t_gain = time.perf_counter() - t0
    return t, len(df), int((df["converged"] == True).sum()), t_gain  # noqa: E712


def bench_phase(workers: int, full: bool, skip_jax: bool) -> None:
    scale = 1 if full else 25
    label = "100 x 100" if full else "20 x 20 sub-grid (extrapolated x 25 to 100 x 100)"
    print(f"Phase diagram (alpha, lam_t), {label}, {workers} worker processes")
    t, n, ok, t_gain = _phase(workers, full, "numpy", with_gain=True)
    est = t * scale
    gain_est = t_gain * (1 if full else 5)
    print(f"  numpy: {t:7.1f} s for {n} points ({ok} converged, {1e3 * t * workers / n:.0f} ms/point/core) "
          f"-> 100 x 100: {est / 60:5.1f} min  target {TARGET_PHASE_S / 60:.0f} min  ratio {est / TARGET_PHASE_S:4.2f}"
          f"  {'OK' if est <= TARGET_PHASE_S else 'MISS'}")
    print(f"         + gain (direct-student optimisations): {t_gain:5.1f} s here -> {gain_est / 60:4.1f} min for the "
          f"full diagram's 100")
    if skip_jax:
        return
    try:
        import jax  # noqa: F401
    except ImportError:
        print("  jax: not installed, skipped")
        return
    os.environ.setdefault("KDSCOPE_JAX_CACHE", str(Path(tempfile.gettempdir()) / "kdscope-bench-jax-cache"))
    from kdscope.theory import Setting
    from kdscope.theory.jax_backend import solve_batch_jax
    t0 = time.perf_counter()
    from kdscope.tasks import enable_jax_cache
    enable_jax_cache()
    solve_batch_jax([Setting(alpha=2.0, rho=0.2, eta=0.5, generations=1, xi=1.0, lam_s=1e-3, lam_t=0.1)])
    print(f"  jax: compilation (K = 1 upstream + K = 2 row, cold cache) {time.perf_counter() - t0:.1f} s per process")
    t, n, ok, _ = _phase(workers, full, "jax", with_gain=False)
    est = t * scale
    print(f"  jax:   {t:7.1f} s for {n} points ({ok} converged, {1e3 * t * workers / n:.0f} ms/point/core) "
          f"-> 100 x 100: {est / 60:5.1f} min  target {TARGET_PHASE_S / 60:.0f} min  ratio {est / TARGET_PHASE_S:4.2f}"
          f"  {'OK' if est <= TARGET_PHASE_S else 'MISS'}")


def bench_sims(d: int, seeds: int) -> None:
    from kdscope.simulations import simulate
    from kdscope.simulations.chain import sizes
    from kdscope.simulations.data import draw_mean, draw_samples
    from kdscope.theory import Setting

    s = Setting(alpha=2.0, rho=0.2, eta=0.5, lam_t=0.1, generations=1, xi=1.0, lam_s=0.01)
    print(f"Simulation: teacher + KL student, d={d}, {seeds} seeds (alpha=2, rho=0.2, eta=0.5, lam_t=0.1, lam_s=0.01)")
    t0 = time.perf_counter()
    r = simulate(s, d=d, seeds=seeds)
    t_kd = time.perf_counter() - t0
    print(f"  kdscope simulate: {t_kd:7.2f} s ({r['n_converged']}/{seeds} converged; eps_s={r['eps_s']:.4f})")
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        print("  scikit-learn not installed: skipped")
        return
    n_t, _, d_s = sizes(s, d)
    data = []
    for seed in range(seeds):  # the same draws as kdscope's train_chain
        rng = np.random.default_rng(seed)
        mu = draw_mean(rng, d, d_s if d_s < d else None)
        data.append(draw_samples(rng, mu, n_t, s.delta, s.rho, s.theta))
    for tol in (1e-8, 1e-4):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for smp in data:
                A = smp.X / np.sqrt(d)
                yt = (smp.y_obs > 0).astype(int)
                teacher = LogisticRegression(C=1.0 / s.lam_t, tol=tol, max_iter=100000).fit(A, yt)
                p = 1.0 / (1.0 + np.exp(-teacher.decision_function(A)))
                As = A[:, :d_s]
                X2 = np.vstack([As, As])
                y2 = np.concatenate([np.ones(len(p), int), np.zeros(len(p), int)])
                LogisticRegression(C=1.0 / s.lam_s, tol=tol, max_iter=100000).fit(
                    X2, y2, sample_weight=np.concatenate([p, 1.0 - p]))
        t_sk = time.perf_counter() - t0
        print(f"  sklearn loop (tol={tol:g}): {t_sk:7.2f} s   kdscope / sklearn = {t_kd / t_sk:5.2f}  "
              f"{'kdscope faster' if t_kd < t_sk else 'sklearn faster'}")


def bench_store(n_alpha: int = 20, n_lam: int = 20) -> None:
    """The store's own cost: a repeated sweep (every point cached) and the claim / write path per computed point."""
    from kdscope.store import ResultStore
    from kdscope.sweep import SweepSpec, sweep

    spec = SweepSpec.from_dict(dict(name="bench_store", base=dict(rho=0.2),
                                    grid=dict(lam_t=list(np.geomspace(1e-2, 1.0, n_lam)),
                                              alpha=list(np.geomspace(0.5, 8.0, n_alpha)))))
    n = n_alpha * n_lam
    print(f"Result store: a {n_lam} x {n_alpha} K = 1 sweep (serial), then the same sweep again (all cached)")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        sweep(spec, store=ResultStore(tmp), progress=False)
        t_first = time.perf_counter() - t0
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            df = sweep(spec, store=ResultStore(tmp), progress=False)
            times.append(time.perf_counter() - t0)
        assert df.attrs["sweep"]["computed"] == 0
    t_cached = float(np.median(times))
    print(f"  first run {t_first:6.2f} s ({1e3 * t_first / n:.1f} ms/point incl. solve, claim and atomic write); "
          f"repeated run {t_cached:5.2f} s ({1e3 * t_cached / n:.2f} ms/point, median of 3; target: costs nothing "
          f"next to solving, ratio {t_cached / t_first:4.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--full", action="store_true", help="time the full 100 x 100 grid")
    ap.add_argument("--skip-jax", action="store_true")
    ap.add_argument("--skip-sims", action="store_true")
    ap.add_argument("--skip-phase", action="store_true")
    ap.add_argument("--skip-store", action="store_true")
    ap.add_argument("--d", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_sweeps: {os.cpu_count()} cores, load average {load:.2f}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    if not args.skip_phase:
        bench_phase(args.workers, args.full, args.skip_jax)
    if not args.skip_store:
        bench_store()
    if not args.skip_sims:
        bench_sims(args.d, args.seeds)


if __name__ == "__main__":
    main()
