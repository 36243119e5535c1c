"""The state of a chain of K learners and its solver coordinates, defined once.

Order parameters (DESIGN.md section 2): m, b of shape (K,), Q (K, K) symmetric,
V (K, K) lower triangular.  The fixed-point iteration runs in scale-free
coordinates, one flat vector laid out as

    [ log Q_aa (K) | log V_aa (K) | m_a / sqrt(Q_aa) (K) | b_a / sqrt(Q_aa) (K)
      | Q_ab / sqrt(Q_aa Q_bb), a > b (K(K-1)/2) | V_ab / sqrt(V_aa V_bb), a > b (K(K-1)/2) ]

Near a separability threshold norms grow by orders of magnitude; in these
coordinates the growth is additive and Anderson mixing stays well conditioned.
The functions here are array code for NumPy or JAX (``theory.kernel``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .kernel import kernel_of


@lru_cache(maxsize=None)
def _strict_lower(K: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(K, -1)


@dataclass(frozen=True)
class Layout:
    """Where each block of the solver vector of K learners lives (slices into the flat vector)."""

    K: int

    @property
    def n_pairs(self) -> int:
        return self.K * (self.K - 1) // 2

    @property
    def size(self) -> int:
        return 4 * self.K + 2 * self.n_pairs

    @property
    def log_q(self) -> slice:
        return slice(0, self.K)

    @property
    def log_v(self) -> slice:
        return slice(self.K, 2 * self.K)

    @property
    def logs(self) -> slice:
        return slice(0, 2 * self.K)

    @property
    def cos_m(self) -> slice:
        return slice(2 * self.K, 3 * self.K)

    @property
    def bias(self) -> slice:
        return slice(3 * self.K, 4 * self.K)

    @property
    def corr_q(self) -> slice:
        return slice(4 * self.K, 4 * self.K + self.n_pairs)

    @property
    def corr_v(self) -> slice:
        return slice(4 * self.K + self.n_pairs, self.size)

    def learner(self) -> np.ndarray:
        """The learner (row) index of every coordinate: learner k's row is m_k, Q_kj, V_kj (j <= k), b_k."""
        K = self.K
        rows = _strict_lower(K)[0]
        own = np.arange(K)
        return np.concatenate([own, own, own, own, rows, rows])


@lru_cache(maxsize=None)
def _layout(K: int) -> Layout:
    return Layout(K)


def to_solver(m, Q, V, b):
    """The flat solver vector of (m, Q, V, b) (see the module docstring)."""
    xp = kernel_of(m, Q, V, b).xp
    K = m.shape[0]
    il = _strict_lower(K)
    qd, vd = xp.diagonal(Q), xp.diagonal(V)
    dq, dv = xp.sqrt(qd), xp.sqrt(vd)
    parts = [xp.log(qd), xp.log(vd), m / dq, b / dq]
    if K > 1:
        parts += [Q[il] / (dq[il[0]] * dq[il[1]]), V[il] / (dv[il[0]] * dv[il[1]])]
    return xp.concatenate(parts)


def from_solver(y, K: int):
    """(m, Q, V, b) of a flat solver vector."""
    xp = kernel_of(y).xp
    lay = _layout(K)
    qd, vd = xp.exp(y[lay.log_q]), xp.exp(y[lay.log_v])
    dq, dv = xp.sqrt(qd), xp.sqrt(vd)
    m = y[lay.cos_m] * dq
    b = y[lay.bias] * dq
    if K == 1:
        return m, qd.reshape(1, 1), vd.reshape(1, 1), b
    il = _strict_lower(K)
    lower_q = _scatter(xp, K, il, y[lay.corr_q] * dq[il[0]] * dq[il[1]])
    lower_v = _scatter(xp, K, il, y[lay.corr_v] * dv[il[0]] * dv[il[1]])
    Q = xp.diag(qd) + lower_q + lower_q.T
    V = xp.diag(vd) + lower_v
    return m, Q, V, b


@lru_cache(maxsize=None)
def _onehot(K: int) -> np.ndarray:
    il = _strict_lower(K)
    onehot = np.zeros((len(il[0]), K * K))
    onehot[np.arange(len(il[0])), il[0] * K + il[1]] = 1.0
    return onehot


def _scatter(xp, K, il, values):
    """A (K, K) matrix with ``values`` at the strictly lower positions ``il`` (no in-place update)."""
    return (values @ _onehot(K)).reshape(K, K)


def is_valid(Y, K: int):
    """Whether solver vectors (the rows of Y) describe possible states: |cosines| and |correlations| <= 1
    (a positive semi-definite Q) and finite norms (log Q_aa, log V_aa < 700).  Returns a bool per row."""
    xp = kernel_of(Y).xp
    lay = _layout(K)
    return ((xp.abs(Y[..., lay.corr_q]) <= 1.0).all(axis=-1) & (xp.abs(Y[..., lay.cos_m]) <= 1.0 + 1e-12).all(axis=-1)
            & (Y[..., lay.logs] < 700).all(axis=-1))


def norm(y, K: int):
    """max(Q_aa, b_a^2): norms and biases both run away when a minimiser does not exist."""
    xp = kernel_of(y).xp
    lay = _layout(K)
    q = xp.exp(xp.minimum(y[lay.log_q], 700.0))
    return xp.maximum(q.max(), (y[lay.bias] ** 2 * q).max())


@dataclass(frozen=True)
class State:
    """Order parameters of a chain of K learners: m, b (K,), Q (K, K), V (K, K) lower triangular."""

    m: np.ndarray
    Q: np.ndarray
    V: np.ndarray
    b: np.ndarray

    @property
    def K(self) -> int:
        return len(self.m)

    def to_solver(self) -> np.ndarray:
        """The flat solver vector (module docstring)."""
        return to_solver(self.m, self.Q, self.V, self.b)

    @classmethod
    def from_solver(cls, y, K: int) -> "State":
        return cls(*(np.asarray(a, dtype=float) for a in from_solver(np.asarray(y, dtype=float), K)))

    @classmethod
    def initial(cls, K: int) -> "State":
        """The cold start: m = 1/2, Q = (1 + 1 1^T) / 2, V = I, b = 0."""
        return cls(np.full(K, 0.5), 0.5 * np.eye(K) + 0.5, np.eye(K), np.zeros(K))

    @classmethod
    def nan(cls, K: int) -> "State":
        """The state of a failed solve: NaN everywhere."""
        return cls(np.full(K, np.nan), np.full((K, K), np.nan), np.full((K, K), np.nan), np.full(K, np.nan))

    def head(self, K: int) -> "State":
        """The first K learners (the upstream chain)."""
        return State(self.m[:K].copy(), self.Q[:K, :K].copy(), self.V[:K, :K].copy(), self.b[:K].copy())

    def finite(self) -> bool:
        return bool(np.all(np.isfinite(self.m)) and np.all(np.isfinite(self.Q)))


@lru_cache(maxsize=None)
def upstream_mask(K: int) -> np.ndarray:
    """Solver coordinates that belong to learners 0 .. K-2.

    The saddle-point equations are triangular in the chain order: learner k's
    row (m_k, Q_kj, V_kj for j <= k, b_k) never depends on later learners.
    """
    return Layout(K).learner() < K - 1


def extend(up: State, guess: State | None, eta: float) -> State:
    """Upstream rows from ``up``; the last row from ``guess`` or a scaled copy of the previous learner.

    The default last row is a student w_k = c w_{k-1} (restricted) plus independent noise, which keeps Q
    positive definite: Q_kj = c Q_{k-1,j} sqrt(Q_kk / Q_{k-1,k-1}) with c = 1/2.
    """
    K = len(up.m) + 1
    m = np.append(up.m, 0.0)
    b = np.append(up.b, 0.0)
    Q = np.zeros((K, K))
    V = np.zeros((K, K))
    Q[:K - 1, :K - 1] = up.Q
    V[:K - 1, :K - 1] = up.V
    if guess is not None:
        m[-1], b[-1] = guess.m[-1], guess.b[-1]
        Q[-1, :], V[-1, :] = guess.Q[-1, :], guess.V[-1, :]
        Q[:, -1] = Q[-1, :]
        return State(m, Q, V, b)
    p = K - 2
    qkk = eta * up.Q[p, p]
    c = 0.5
    Q[-1, :K - 1] = Q[:K - 1, -1] = c * up.Q[p, :] * np.sqrt(qkk / up.Q[p, p])
    Q[-1, -1] = qkk
    m[-1] = c * up.m[p] * np.sqrt(qkk / up.Q[p, p])
    b[-1] = up.b[p]
    V[-1, -1] = eta * up.V[p, p] if up.V[p, p] > 0 else eta
    return State(m, Q, V, b)
