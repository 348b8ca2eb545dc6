"""The evaluator contract, run over every registered evaluator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from archgen.errors import ArchitectureListError, UnknownNameError
from archgen.evaluators import EvalResult, Evaluator, evaluator_class, list_evaluators
from archgen.predictors import get_predictor

NAMES = list_evaluators()


def _table(ws) -> Evaluator:
    return evaluator_class("table")(ws.table("nb201"), "cifar10-valid", "val_acc")


def _predictor(ws) -> Evaluator:
    from archgen.services.predictors import table_archs

    archs, y = table_archs(ws.table("nb201"), "cifar10-valid", "val_acc")
    idx = np.random.default_rng(0).permutation(len(archs))[:50]
    pred = get_predictor("lgbm", data=ws, task="cifar10", n_estimators=20, n_bags=2).fit(
        [archs[i] for i in idx], y[idx]
    )
    return evaluator_class("predictor")(pred, objective="val_acc", cost=0.5, source="test-lgbm")


def _supernet(ws) -> Evaluator:
    from archgen.supernets import OneShotSupernet

    train, held = ws.cifar10("test").split(0.5, seed=0)  # CIFAR-10 images, a tiny supernet trained for seconds
    train = train.subset(np.arange(512))
    sn = OneShotSupernet(C=4, N=1, resolution=8, epochs=1, batch_size=64, calib_batches=2, eval_images=128).fit(train)
    return evaluator_class("supernet")(sn, train, held, source="test-supernet")


def _training(ws) -> Evaluator:
    import tempfile
    from pathlib import Path

    tiny = {"epochs": 1, "batch_size": 64, "C": 4, "N": 1, "resolution": 8, "train_images": 256}
    return evaluator_class("training")(ws, "cifar10", workdir=Path(tempfile.mkdtemp()), **tiny)


def _replay(ws) -> Evaluator:
    """A curve table whose candidates are the cells these tests sample (random curves), replayed at epoch 2."""
    from archgen.curves.replay import ReplayTrials
    from archgen.spaces import get_space
    from tests.curves.test_table import make_table

    sp = get_space("nb201")
    cells = list(dict.fromkeys(sp.format(a) for k, n in ((1, 7), (2, 5), (3, 4), (4, 2)) for a in sp.sample(n, np.random.default_rng(k))))  # fmt: skip
    t = make_table(cells=len(cells), seeds=2, epochs=3)
    t.cells = cells
    t.__post_init__()
    return evaluator_class("replay")(ReplayTrials(t, seed=0), 2)


def _replicated(ws) -> Evaluator:
    """The replayed training at epoch 2 and its replicate (the cell's other seed)."""
    first = _replay(ws)
    return evaluator_class("replicated")([first, type(first)(first.trials, 2, trial=1)])


#: How to build each registered evaluator on real data: a new evaluator must add itself here.
FACTORIES: dict[str, Callable[[Any], Evaluator]] = {"table": _table, "predictor": _predictor, "supernet": _supernet,
                                                    "training": _training, "replay": _replay,
                                                    "replicated": _replicated}  # fmt: skip


@pytest.fixture(params=NAMES)
def evaluator(request: pytest.FixtureRequest, ws) -> Evaluator:
    return FACTORIES[request.param](ws)


def test_every_evaluator_has_a_factory() -> None:
    assert sorted(FACTORIES) == NAMES


def test_one_result_per_architecture_in_order(evaluator: Evaluator) -> None:
    from archgen.spaces import get_space

    archs = get_space(evaluator.space).sample(7, np.random.default_rng(1))
    res = evaluator.evaluate(archs)
    assert len(res) == 7 and all(isinstance(r, EvalResult) for r in res)
    assert [r.arch for r in res] == archs
    for r in res:
        assert np.isfinite(r.value) and r.values[evaluator.objective] == r.value
        assert r.cost >= 0 and r.source
        assert r.std is None or r.std >= 0


def test_queries_and_cost_are_counted(evaluator: Evaluator) -> None:
    from archgen.spaces import get_space

    archs = get_space(evaluator.space).sample(5, np.random.default_rng(2))
    res = evaluator.evaluate(archs[:3]) + evaluator.evaluate(archs[3:])
    assert evaluator.queries == 5
    assert evaluator.total_cost == pytest.approx(sum(r.cost for r in res))
    evaluator.reset()
    assert evaluator.queries == 0 and evaluator.total_cost == 0


def test_same_architectures_same_values(evaluator: Evaluator) -> None:
    from archgen.spaces import get_space

    archs = get_space(evaluator.space).sample(4, np.random.default_rng(3))
    a = [r.value for r in evaluator.evaluate(archs)]
    b = [r.value for r in evaluator.evaluate(archs)]
    np.testing.assert_allclose(a, b)


def test_bad_input_names_its_position(evaluator: Evaluator) -> None:
    from archgen.spaces import get_space

    good = get_space(evaluator.space).sample(2, np.random.default_rng(4))
    with pytest.raises(ArchitectureListError, match=r"architectures\[1\]"):
        evaluator.evaluate([good[0], "not an arch", good[1]])  # type: ignore[list-item]
    other = get_space("nb101").sample(1, np.random.default_rng(0))
    with pytest.raises(ArchitectureListError, match=r"architectures\[0\]"):
        evaluator.evaluate(other)
    assert evaluator.evaluate([]) == []
    assert evaluator.queries == 0


def test_unknown_evaluator_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match="table"):
        evaluator_class("oracle")
