"""Sweeps on the JAX backend give the NumPy numbers (within 1e-8) and choose backends as documented."""

import numpy as np
import pytest

from kdscope import Setting
from kdscope.store import ResultStore
from kdscope.sweep import SweepSpec, resolve_backend, sweep

jax_backend = pytest.importorskip("kdscope.theory.jax_backend")


def test_jax_sweep_equals_numpy_sweep(tmp_path, monkeypatch):
    monkeypatch.setenv("KDSCOPE_JAX_CACHE", str(tmp_path / "jax-cache"))
    raw = dict(name="j", base=dict(rho=0.2, eta=0.5, generations=1, xi=1.0, lam_s=1e-3, lam_t=0.1),
               grid=dict(alpha=[0.7, 1.5, 3.0]))
    jx = sweep(SweepSpec.from_dict(dict(raw, backend="jax")), store=ResultStore(tmp_path / "a"), executor="serial",
               progress=False)
    npy = sweep(SweepSpec.from_dict(raw), store=ResultStore(tmp_path / "b"), executor="serial", progress=False)
    assert set(jx["backend"]) == {"jax"} and set(npy["backend"]) == {"numpy"}
    for col in ("eps_t", "eps_s", "m_t", "m_s", "q_t", "q_s", "q_ts"):
        assert np.max(np.abs(jx[col].to_numpy(float) - npy[col].to_numpy(float))) < 1e-8, col


def test_backend_resolution():
    small = [Setting(alpha=a) for a in (1.0, 2.0)]
    assert resolve_backend("auto", small) == "numpy"
    assert resolve_backend("auto", small * 600) == "jax"
    assert resolve_backend("auto", [Setting(loss_t="hinge", lam_t=0.1)] * 1200) == "numpy"
    with pytest.raises(ValueError, match="hinge"):
        resolve_backend("jax", [Setting(loss_t="hinge", lam_t=0.1)])
    with pytest.raises(ValueError, match="'backend'"):
        resolve_backend("torch", small)
