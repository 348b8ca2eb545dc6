"""Random splits of a training set: one function for training, benchmarks and ensembles."""

from __future__ import annotations

import numpy as np


def random_split(n: int, n_first: int, rng: np.random.Generator | int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` at random into ``n_first`` indices and the rest, each sorted.

    Args:
        n: Number of items.
        n_first: Size of the first part, ``0 <= n_first <= n``.
        rng: Generator (or seed) drawing the permutation.

    Returns:
        ``(first, rest)``, ``int64`` arrays of shapes ``(n_first,)`` and ``(n - n_first,)``.
    """
    if not 0 <= n_first <= n:
        raise ValueError(f"cannot take {n_first} of {n} items")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    perm = gen.permutation(n)
    return np.sort(perm[:n_first]), np.sort(perm[n_first:])
