"""The one training pipeline: typed params, bounds checked once, one id scheme, progress, stored provenance."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from archgen.artifacts import ArtifactStore
from archgen.errors import PredictorInputError, UnknownNameError, UnsupportedSpaceError
from archgen.predictors.base import CallbackMonitor
from archgen.services.predictors import (
    TrainPredictorParams,
    model_id,
    predictor_kwargs,
    train_predictor,
    validate_params,
)


def test_model_ids() -> None:
    assert model_id("lgbm", "nb201", "cifar10", 100, 0, "ab12") == "lgbm-nb201-cifar10-n100-s0-ab12"
    assert model_id("stack", "nb201", "cifar10", 469, 0, prefix="default") == "default-stack-nb201-cifar10-n469-s0"


def test_train_stores_a_model_with_provenance_and_progress(ws, tmp_path) -> None:
    spec = TrainPredictorParams(
        space="nb201", task="cifar10", kind="lgbm", n_train=50, params={"n_estimators": 10, "n_bags": 2}, eval_max=80
    )
    seen: list[float] = []
    _pred, rec = train_predictor(
        spec, ws, ArtifactStore(tmp_path), monitor=CallbackMonitor(lambda f, _m: seen.append(f))
    )
    assert rec.id.startswith("lgbm-nb201-cifar10-n50-s0-") and rec.heldout["n"] == 80 and rec.n_train == 50
    assert rec.target == ["cifar10-valid", "val_acc"] and rec.data_sources
    assert seen == sorted(seen) and seen[-1] == 1.0
    # the same id again: loaded, not fitted again
    _again, rec2 = train_predictor(spec.model_copy(update={"model_id": rec.id}), ws, ArtifactStore(tmp_path))
    assert rec2.artifact_sha256 == rec.artifact_sha256


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"kind": "xgboost"}, UnknownNameError, "xgboost"),
        ({"task": "mnist"}, UnknownNameError, "mnist"),
        ({"n_train": 15624}, PredictorInputError, "at most 15623"),
        ({"kind": "stack", "n_train": 5}, PredictorInputError, "at least 20"),
        ({"params": {"n_trees": 3}}, PredictorInputError, "n_trees"),
        ({"params": {"task": "cifar100"}}, PredictorInputError, "task"),
        ({"metric": "accuracy"}, UnknownNameError, "accuracy"),
        ({"space": "nasbench_graph", "task": "cora", "kind": "zc"}, UnsupportedSpaceError, "nasbench_graph"),
    ],
)
def test_bad_runs_are_refused_before_any_work(ws, changes: dict, error: type, match: str) -> None:
    spec = TrainPredictorParams(space="nb201", task="cifar10", kind="lgbm", n_train=50).model_copy(update=changes)
    with pytest.raises(error, match=match):
        validate_params(spec, ws)


def test_params_model_refuses_bad_types() -> None:
    with pytest.raises(ValidationError):
        TrainPredictorParams(space="nb201", task="cifar10", n_train="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        TrainPredictorParams(space="nb201", task="cifar10", model_id="../etc")


def test_default_targets(ws) -> None:
    assert ws.table("nb201").default_target("cifar10") == ("cifar10-valid", "val_acc")
    assert ws.table("nb201").default_target("cifar100") == ("cifar100", "test_acc")
    assert ws.table("nasbench_graph").default_target("proteins") == ("proteins", "val_rocauc")


def test_predictor_kwargs_fill_task_seed_and_source() -> None:
    assert predictor_kwargs("lgbm", "cifar10", 3, "none") == {"task": "cifar10", "random_state": 3, "zc": "none"}
    assert predictor_kwargs("zc_vote", "cifar10", 3, "table")["source"] == "table"
