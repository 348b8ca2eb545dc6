"""The directed GIN ensemble: learns a synthetic target, its dense form equals its sparse form, members resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archgen.errors import UnsupportedOperationError
from archgen.predictors import get_predictor
from archgen.predictors.base import CallbackMonitor
from archgen.predictors.metrics import kendall_tau
from tests.predictors.synthetic import synthetic, synthetic_split


@pytest.fixture(scope="module")
def fitted(nb201_data):
    tr, te = synthetic_split(nb201_data[0])
    mon = CallbackMonitor()
    pred = get_predictor("gnn", zc="none", n_members=2, epochs=150).fit(tr, synthetic(tr), monitor=mon)
    return pred, tr, te, mon


def test_learns_a_synthetic_target(fitted) -> None:
    pred, _, te, _ = fitted
    assert kendall_tau(synthetic(te), pred.predict(te)) > 0.8


def test_dense_mean_equals_the_sparse_prediction_and_has_a_gradient(fitted) -> None:
    from archgen.spaces import get_space

    pred, _, te, _ = fitted
    space = get_space("nb201")
    canon = [space.canonical(a) for a in te[:20]]  # predict() encodes the canonical form
    adj, x = space.to_dense_batch(canon)
    x = x.requires_grad_(True)
    dense = pred.torch_mean(adj, x)
    np.testing.assert_allclose(dense.detach().numpy(), pred.predict(canon), rtol=1e-4, atol=1e-4)
    dense.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_members_are_checkpointed_and_restored(fitted) -> None:
    pred, tr, te, mon = fitted
    assert sorted(mon.parts) == ["member0", "member1"]
    again = get_predictor("gnn", zc="none", n_members=2, epochs=150)
    restored = CallbackMonitor()
    restored.parts = dict(mon.parts)
    calls: list[int] = []
    original = again._train_member
    again._train_member = lambda *a, **k: calls.append(1) or original(*a, **k)  # type: ignore[method-assign]
    again.fit(tr, synthetic(tr), monitor=restored)
    assert calls == []  # both members restored, none trained
    np.testing.assert_array_equal(again.predict(te), pred.predict(te))


def test_with_table_features_it_is_not_differentiable(ws, split) -> None:
    tr, ytr, te, _ = split
    pred = get_predictor("gnn", data=ws, task="cifar10", n_members=1, epochs=10).fit(tr, ytr)
    assert not pred.is_differentiable()
    adj, x = ws.space("nb201").to_dense_batch(te[:2])
    assert torch.is_tensor(adj)
    with pytest.raises(UnsupportedOperationError, match="zc='none'"):
        pred.torch_mean(adj, x)
