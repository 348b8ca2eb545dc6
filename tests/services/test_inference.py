"""Domain services: parse once, predict (with the per-row cache), look up, score zero-cost proxies."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from archgen.artifacts import ArtifactStore
from archgen.errors import ArchitectureListError, TooManyArchitecturesError, UnknownNameError
from archgen.predictors.zerocost import ZCSettings
from archgen.services.inference import ServedModel, lookup, parse_batch, predict, zero_cost
from archgen.services.predictors import TrainPredictorParams, train_predictor

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def model(ws, tmp_path_factory):
    spec = TrainPredictorParams(
        space="nb201", task="cifar10", kind="lgbm", n_train=60, params={"n_estimators": 20, "n_bags": 2}, eval_max=100
    )
    store = ArtifactStore(tmp_path_factory.mktemp("models"))
    _, rec = train_predictor(spec, ws, store)
    return store, rec


def test_parse_batch_parses_once_with_rows_and_names_bad_positions(ws) -> None:
    space = ws.space("nb201")
    batch = parse_batch(space, [CELL, 123, "4567"], 10)
    assert batch.rows.tolist()[1:] == [123, 4567] and batch.rows[0] == space.index(space.parse(CELL))
    assert batch.given == (CELL, 123, "4567")
    with pytest.raises(ArchitectureListError, match=r"architectures\[1\]") as e:
        parse_batch(space, [CELL, "|bogus~0|", 1], 10)
    assert e.value.index == 1
    with pytest.raises(TooManyArchitecturesError, match="limit is 2"):
        parse_batch(space, [1, 2, 3], 2)


def test_predict_returns_typed_results_that_match_the_predictor(ws, model) -> None:
    store, rec = model
    predictor, record = store.load(rec.id, data=ws)
    table = ws.table("nb201")
    served = ServedModel(predictor, record, table.search_space, table.num_rows)
    batch = parse_batch(ws.space("nb201"), [CELL, 5, 77], 10)
    out = predict(served, batch)
    mean, std = predictor.predict_with_uncertainty(batch.archs)
    assert [p.architecture for p in out.predictions] == [CELL, 5, 77]
    np.testing.assert_allclose([p.mean for p in out.predictions], mean)
    np.testing.assert_allclose([p.std for p in out.predictions], std)
    space = ws.space("nb201")
    assert out.predictions[0].canonical == space.format(space.canonical(space.parse(CELL)))
    assert all(p.std is None for p in predict(served, batch, uncertainty=False).predictions)


def test_filled_predictions_are_kept_between_starts(ws, model, tmp_path) -> None:
    store, rec = model
    predictor, record = store.load(rec.id, data=ws)
    space = ws.space("nb201")
    first = ServedModel(predictor, record, space, 15625, tmp_path)
    first.fill(threading.Event())
    second = ServedModel(predictor, record, space, 15625, tmp_path)

    def no_compute(archs):
        raise AssertionError("recomputed a stored prediction")

    second._compute = no_compute  # type: ignore[method-assign]
    archs = [space.from_index(i) for i in (0, 77, 15624)]
    rows = np.array([0, 77, 15624])
    np.testing.assert_array_equal(second.predict(archs, rows)[0], first.predict(archs, rows)[0])
    # a torn file is ignored, not trusted
    path = next(tmp_path.glob("*.npz"))
    path.write_bytes(path.read_bytes()[:100])
    third = ServedModel(predictor, record, space, 15625, tmp_path)
    assert third._mean is not None and np.isnan(third._mean).all()


def test_lookup_returns_published_values_and_refuses_an_empty_task_list(ws) -> None:
    table = ws.table("nb201")
    batch = parse_batch(ws.space("nb201"), [7, CELL], 10)
    rows = lookup(table, batch, ["cifar100"], ["test_acc"])
    assert (
        rows[0].index == 7 and rows[0].metrics["cifar100"]["test_acc"] == table.lookup("cifar100", "test_acc", [7])[0]
    )
    with pytest.raises(UnknownNameError, match="empty list"):
        lookup(table, batch, [], None)
    with pytest.raises(UnknownNameError, match="mnist"):
        lookup(table, batch, ["mnist"], None)


def test_zero_cost_reports_cells_and_what_it_computed(ws, tmp_path) -> None:
    batch = parse_batch(ws.space("nb201"), [10, 10, 11], 10)
    res = zero_cost(ws, batch, "cifar10", ["params"], ZCSettings(batch_size=8, C=4))
    assert res.cells == 2 and [r.architecture for r in res.results] == [10, 10, 11]
    assert res.results[0].scores == res.results[1].scores
    again = zero_cost(ws, batch, "cifar10", ["params"], ZCSettings(batch_size=8, C=4))
    assert again.cells_computed_by_this_run == 0 and again.results == res.results
