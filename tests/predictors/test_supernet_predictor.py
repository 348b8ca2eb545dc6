"""The supernet predictor: its estimates are a feature of the stacked ensemble, one supernet serves every fold,
and a stored predictor restores its supernet's weights instead of training again."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.artifacts import ArtifactRecord, ArtifactStore
from archgen.context import Paths, workspace
from archgen.predictors import get_predictor
from archgen.services.supernets import SupernetParams, train_supernet

TINY = {"epochs": 2, "C": 4, "N": 1, "resolution": 8, "train_images": 2000, "batch_size": 64, "calib_batches": 1,
        "eval_images": 200}  # fmt: skip


@pytest.fixture(scope="module")
def stored_supernet(ws, tmp_path_factory: pytest.TempPathFactory) -> str:
    params = SupernetParams(task="cifar10", minutes=0.05, epochs=1, batch_size=64, C=4, N=1, resolution=8,
                            calib_batches=1, eval_images=200)  # fmt: skip
    rec = train_supernet(params, ws, ws.models, tmp_path_factory.mktemp("sn"), model_id="test-stack-supernet")
    return rec.id


def test_the_stack_takes_the_supernet_as_a_member(ws, split, stored_supernet: str) -> None:
    tr, ytr, te, _ = split
    stack = get_predictor("stack", data=ws, task="cifar10", members=["lgbm", "supernet"], supernet=stored_supernet,
                          folds=2)  # fmt: skip
    stack.fit(tr, ytr)
    mean, std = stack.predict_with_uncertainty(te)
    assert mean.shape == std.shape == (len(te),) and np.isfinite(mean).all() and (std > 0).all()
    assert [m.name for m in stack.members_] in (["lgbm"], ["supernet"], ["lgbm", "supernet"])
    member = get_predictor("supernet", data=ws, task="cifar10", supernet=stored_supernet)
    est = member.estimates(te[:5])
    assert ((0 <= est) & (est <= 100)).all()
    # one scorer (one supernet, one cache) per setting: a second predictor reuses the estimates
    again = get_predictor("supernet", data=ws, task="cifar10", supernet=stored_supernet)
    assert again._scorer() is member._scorer()


def test_a_stored_predictor_restores_its_supernet_without_training(ws, split, tmp_path) -> None:
    tr, ytr, te, _ = split
    p = get_predictor("supernet", data=ws, task="cifar10", seed=5, **TINY).fit(tr, ytr)
    store = ArtifactStore(tmp_path / "models")
    store.save(p, ArtifactRecord(id="sn-pred", kind="supernet", space="nb201", task="cifar10",
                                 target=["cifar10-valid", "val_acc"], params={}, seed=0, train_archs=[]))  # fmt: skip
    fresh = workspace(Paths.of(ws.paths.data_dir, ws.paths.cache_dir, tmp_path / "other-home"))
    loaded, _ = store.load("sn-pred", data=fresh)
    scorer = loaded._scorer()
    assert scorer.evaluator.source == "supernet:restored"  # restored weights, not a new training
    np.testing.assert_allclose(loaded.predict(te), p.predict(te), rtol=1e-6, atol=1e-6)
