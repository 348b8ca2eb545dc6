"""A synthetic target of NB201 cells, known by construction, for learning tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from archgen.arch import Arch
from archgen.spaces import get_space


def synthetic(archs: Sequence[Arch]) -> np.ndarray:
    """Convolutions on the canonical cell, weighted by kind, plus an interaction."""
    sp = get_space("nb201")
    out = []
    for a in archs:
        ops = np.array(sp.canonical(a).ops)
        out.append(2.0 * (ops == 3).sum() + 1.0 * (ops == 2).sum() + 1.5 * (ops[-1] == 3) * (ops[0] == 3))
    return np.asarray(out, dtype=np.float64)


def synthetic_split(archs: Sequence[Arch], n_train: int = 200, n_test: int = 500) -> tuple[list[Arch], list[Arch]]:
    idx = np.random.default_rng(3).permutation(len(archs))
    return [archs[i] for i in idx[:n_train]], [archs[i] for i in idx[n_train : n_train + n_test]]
