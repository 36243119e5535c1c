"""Benchmark: 2-D maps and per-layer metrics of the embedding analysis on N synthetic points.

Data: N points (default 2000) in D = 64 dimensions, 10 Gaussian clusters (a stand-in for the
pooled features of one layer).  Timed, each once after a small warm-up:
t-SNE through openTSNE (PCA init, n_jobs threads), the same through scikit-learn, the
IVIS-style triplet embedding (default options, unsupervised and supervised), the
compactness metrics (kNN 5-fold, linear probe, silhouette, Davies-Bouldin, distance ratio),
and linear / RBF CKA (RBF on a 1000-row sub-sample).  The kNN accuracy of each map
(5-fold, k = 5) is printed next to its time to show what the time buys.

Usage: python benchmarks/bench_analysis.py [--n 2000] [--threads 1] [--skip-sklearn]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-sklearn", action="store_true", help="skip the scikit-learn t-SNE")
    args = ap.parse_args()

    import torch

    from kdscope.empirical.analysis import compactness, ivis_embed, knn_accuracy, linear_cka, rbf_cka, tsne

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    n_classes, d = 10, 64
    y = rng.integers(0, n_classes, size=args.n)
    centres = rng.normal(size=(n_classes, d)) * 0.6
    X = centres[y] + rng.normal(size=(args.n, d))
    print(f"bench_analysis: N={args.n}, D={d}, {n_classes} clusters, torch threads={args.threads}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"  kNN accuracy in feature space: {knn_accuracy(X, y):.3f}")

    ivis_embed(X[:200], epochs=1, min_steps=0)  # warm-up (imports, thread pools)
    rows = []
    Z, t = _timed(tsne, X, seed=0, n_jobs=args.threads, backend="opentsne")
    rows.append(("t-SNE (openTSNE)", t, knn_accuracy(Z, y)))
    if not args.skip_sklearn:
        Z, t = _timed(tsne, X, seed=0, backend="sklearn")
        rows.append(("t-SNE (scikit-learn)", t, knn_accuracy(Z, y)))
    Z, t = _timed(ivis_embed, X, seed=0)
    rows.append(("IVIS-style, unsupervised", t, knn_accuracy(Z, y)))
    Z, t = _timed(ivis_embed, X, y, seed=0)
    rows.append(("IVIS-style, supervised", t, knn_accuracy(Z, y)))
    for name, t, acc in rows:
        print(f"  {name:<26s} {t:7.2f} s   2-D kNN accuracy {acc:.3f}")

    _, t = _timed(compactness, X, y)
    print(f"  {'compactness (5 metrics)':<26s} {t:7.2f} s")
    Y = np.tanh(X @ rng.normal(size=(d, 32)))
    v, t = _timed(linear_cka, X, Y)
    print(f"  {'linear CKA':<26s} {t:7.3f} s   value {v:.3f}")
    v, t = _timed(rbf_cka, X, Y, max_n=1000)
    print(f"  {'RBF CKA (1000 rows)':<26s} {t:7.3f} s   value {v:.3f}")


if __name__ == "__main__":
    main()
