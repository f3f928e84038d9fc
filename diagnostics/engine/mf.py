"""Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren & Volinsky 2008).

The paper's models are SVD and NCF; ALS is the same latent-factor family, deterministic for a
given seed (no sampled negatives, no shuffling), and a retrain on ML-100K takes about a second on
one core, which is what makes hundreds of exact deletion retrains affordable.

Preference p_ui = 1 for every training interaction, confidence c_ui = 1 + alpha * weight_ui.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sparse

from recsys.ml.sequences import Sequences

FloatArray = np.ndarray


@dataclass(frozen=True)
class ALSConfig:
    factors: int = 32
    regularization: float = 0.1
    alpha: float = 10.0
    sweeps: int = 12
    seed: int = 0

    def replace(self, **changes: object) -> ALSConfig:
        return ALSConfig(**{**asdict(self), **changes})

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass
class ALSModel:
    user_factors: FloatArray  # [U, k], rows in the order of ``users``
    item_factors: FloatArray  # [N + 1, k], row 0 = padding (zeros)
    users: list[str]
    config: ALSConfig

    def scores(self, user_rows: np.ndarray) -> FloatArray:
        """[len(user_rows), N + 1] scores; column 0 can never win."""
        scores = self.user_factors[user_rows] @ self.item_factors.T
        scores[:, 0] = -np.inf
        return np.asarray(scores)


def interaction_matrix(train: Sequences, num_items: int) -> FloatArray:
    """Dense [U, N + 1] confidence weights (0 where no interaction); ML-100K is 943 x 1683."""
    matrix = np.zeros((len(train), num_items + 1), dtype=np.float64)
    for row, (items, weights) in enumerate(zip(train.items, train.weights, strict=True)):
        if len(items):
            np.maximum.at(matrix[row], items, weights.astype(np.float64))
    matrix[:, 0] = 0.0
    return matrix


def initial_item_factors(num_items: int, config: ALSConfig) -> FloatArray:
    rng = np.random.default_rng(config.seed)
    factors = rng.normal(0.0, 0.01, (num_items + 1, config.factors))
    factors[0] = 0.0
    return np.asarray(factors)


def solve_side(weights: sparse.csr_matrix, other: FloatArray, config: ALSConfig) -> FloatArray:
    """Least-squares factors of every row of ``weights`` given the other side's factors.

    For row u: (O^T O + alpha O^T W_u O + lambda I) x_u = (1 + alpha) ... written with the
    confidence matrix C_u = I + alpha W_u and preference 1 on the observed entries.
    """
    lhs, rhs = normal_equations(weights, other, config)
    return np.asarray(np.linalg.solve(lhs, rhs[..., None])[..., 0])


def normal_equations(weights: sparse.csr_matrix, other: FloatArray, config: ALSConfig) -> tuple[FloatArray, FloatArray]:
    """[rows, k, k] left-hand sides and [rows, k] right-hand sides of ``solve_side``."""
    k = other.shape[1]
    gram = other.T @ other
    # the sparse product is most of an ALS sweep: form only the upper triangle of each symmetric outer product
    upper, lower = np.triu_indices(k)
    packed = np.asarray(weights @ (other[:, upper] * other[:, lower])) * config.alpha
    lhs = np.zeros((weights.shape[0], k, k))
    lhs[:, upper, lower] = packed
    lhs[:, lower, upper] = packed
    lhs += gram[None] + config.regularization * np.eye(k)[None]
    observed = weights.copy()
    observed.data = 1.0 + config.alpha * observed.data
    return lhs, np.asarray(observed @ other)


def rank_one_downdate(
    factors: FloatArray, inverses: FloatArray, removed: FloatArray, confidence: FloatArray, taken: FloatArray
) -> FloatArray:
    """Solutions after every row's equations A f = b lose ``confidence`` v v^T and b loses ``taken`` v.

    ``factors`` solve the current equations (f = A^-1 b) and ``inverses`` are the A^-1; Sherman-Morrison
    gives f' = f + z (c v.f - t) / (1 - c v.z) with z = A^-1 v, O(k^2) per row instead of a new solve.
    """
    z = np.einsum("nij,j->ni", inverses, removed)
    scale = (confidence * (factors @ removed) - taken) / (1.0 - confidence * (z @ removed))
    return np.asarray(factors + z * scale[:, None])


def fit_als(train: Sequences, num_items: int, config: ALSConfig, initial_items: FloatArray | None = None) -> ALSModel:
    weights = sparse.csr_matrix(interaction_matrix(train, num_items))
    items = initial_item_factors(num_items, config) if initial_items is None else initial_items.copy()
    users = np.zeros((len(train), config.factors))
    users, items = alternate(weights, users, items, config, 2 * config.sweeps, users_first=True)
    return ALSModel(users, items, list(train.users), config)


def alternate(
    weights: sparse.csr_matrix, users: FloatArray, items: FloatArray, config: ALSConfig, half_sweeps: int,
    users_first: bool,
) -> tuple[FloatArray, FloatArray]:
    """``half_sweeps`` least-squares solves, alternating sides; a full sweep is two of them."""
    weights_by_item = weights.T.tocsr()
    solve_users = users_first
    for _ in range(half_sweeps):
        if solve_users:
            users = solve_side(weights, items, config)
        else:
            items = solve_side(weights_by_item, users, config)
            items[0] = 0.0
        solve_users = not solve_users
    return users, items
