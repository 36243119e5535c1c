"""A sweep across threshold regions: every point is converged or flagged with its residual, never a silent NaN."""

import math

import numpy as np

from kdscope.store import ResultStore
from kdscope.sweep import SweepSpec, sweep
from kdscope.theory import Status

STATUSES = {s.value for s in Status}
OBSERVABLES = ("m_t", "q_t", "V_t", "b_t", "eps_t", "eps_train_t", "loss_train_t", "eps_bayes", "eps_oracle")
STUDENT = ("m_s", "q_s", "V_s", "b_s", "eps_s", "eps_train_s", "loss_train_s", "q_ts", "V_st", "agreement",
           "mse_train_ts", "eps_bayes_s")


def _check(df, columns):
    assert set(df["status"]) <= STATUSES
    for _, row in df.iterrows():
        assert isinstance(row["residual"], float) and not math.isnan(row["residual"])
        if row["status"] == Status.CONVERGED.value:
            assert row["converged"] == True  # noqa: E712
            assert row["residual"] < 1e-9
            values = np.array([row[c] for c in columns], dtype=float)
            assert np.all(np.isfinite(values)), dict(zip(columns, values))
        else:
            assert row["converged"] == False  # noqa: E712
            assert math.isnan(row["eps_t"])  # NaN only next to a status other than converged


def test_threshold_regions_single_learner(tmp_path):
    # alpha across the interpolation (1) and separability (about 3.7 at rho = 0.5, 4.85 at rho = 0.2)
    # thresholds, from nearly unregularised to strong ridge
    spec = SweepSpec.from_dict(dict(
        name="robust-k1", base=dict(delta=1.0),
        grid=dict(rho=[0.2, 0.5], lam_t=[1e-6, 1e-3, 0.1, 10.0], alpha=[0.1, 0.5, 1.0, 3.7, 4.85, 10.0])))
    df = sweep(spec, store=ResultStore(tmp_path), executor="serial", progress=False)
    assert len(df) == 48
    _check(df, OBSERVABLES)
    assert (df["status"] == Status.CONVERGED.value).mean() > 0.9


def test_threshold_regions_students(tmp_path):
    # the student's interpolation threshold alpha = eta = 0.5 with almost no ridge (critical slowing down)
    spec = SweepSpec.from_dict(dict(
        name="robust-k2", base=dict(delta=1.0, rho=0.2, generations=1, eta=0.5, xi=1.0, lam_s=1e-6),
        grid=dict(lam_t=[1e-6, 1.0], alpha=[0.1, 0.5, 2.0, 10.0]), solver=dict(max_iter=1500)))
    df = sweep(spec, store=ResultStore(tmp_path), executor="serial", progress=False)
    assert len(df) == 8
    _check(df, OBSERVABLES + STUDENT)
    assert (df["status"] == Status.CONVERGED.value).sum() >= 6
