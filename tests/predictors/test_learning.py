"""The learned predictors recover a synthetic target of the architecture."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.predictors import get_predictor
from archgen.predictors.metrics import kendall_tau
from archgen.spaces import get_space


def synthetic(archs) -> np.ndarray:  # noqa: ANN001
    """Convolutions on the canonical cell, weighted by position, plus an interaction."""
    sp = get_space("nb201")
    out = []
    for a in archs:
        ops = np.array(sp.canonical(a).ops)
        out.append(2.0 * (ops == 3).sum() + 1.0 * (ops == 2).sum() + 1.5 * (ops[-1] == 3) * (ops[0] == 3))
    return np.asarray(out, dtype=np.float64)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("lgbm", {"zc": "none"}),
        ("gnn", {"zc": "none", "n_members": 2, "epochs": 150}),
    ],
)
def test_learns_a_synthetic_target(name: str, params: dict, nb201_data) -> None:  # noqa: ANN001
    archs, _ = nb201_data
    idx = np.random.default_rng(3).permutation(len(archs))
    tr = [archs[i] for i in idx[:200]]
    te = [archs[i] for i in idx[200:700]]
    pred = get_predictor(name, **params).fit(tr, synthetic(tr))
    assert kendall_tau(synthetic(te), pred.predict(te)) > 0.8
