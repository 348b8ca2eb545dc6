"""Declared types and bounds of predictor parameters (what a training request may set)."""

from __future__ import annotations

import math

import pytest

from archgen.errors import PredictorInputError
from archgen.predictors import list_predictors, predictor_class
from archgen.predictors.hyperparams import DERIVED, Param, check_params
from archgen.services.predictors import predictor_kwargs


@pytest.mark.parametrize("name", list_predictors())
def test_every_constructor_parameter_is_declared(name: str) -> None:
    cls = predictor_class(name)
    taken = set(cls().get_params()) - set(DERIVED)
    assert set(cls.hyperparameters) == taken, (
        f"{name}: declare type and bounds of {sorted(taken - set(cls.hyperparameters))}"
    )


@pytest.mark.parametrize("name", list_predictors())
def test_the_defaults_pass_their_own_declaration(name: str) -> None:
    cls = predictor_class(name)
    defaults = {k: v for k, v in cls().get_params().items() if k not in DERIVED}
    check_params(name, cls.hyperparameters, defaults)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"n_estimators": "x"}, ["params.n_estimators", "integer"]),
        ({"n_estimators": -5}, ["params.n_estimators", "[1, 5000]"]),
        ({"n_estimators": 100_000_000, "n_bags": 1000}, ["n_estimators", "5000", "cost"]),
        ({"n_bags": 1000}, ["params.n_bags", "[1, 50]"]),
        ({"n_estimators": True}, ["params.n_estimators", "integer"]),
        ({"learning_rate": math.nan}, ["params.learning_rate", "finite"]),
        ({"zc": "bogus"}, ["params.zc", "none, table, computed"]),
        ({"task": 5}, ["may not set task"]),
        ({"epochs": 10}, ["unknown parameter", "epochs", "valid:"]),
    ],
)
def test_bad_lgbm_params_are_refused_naming_the_parameter(extra: dict, words: list[str]) -> None:
    with pytest.raises(PredictorInputError) as e:
        predictor_kwargs("lgbm", "cifar10", 0, extra=extra)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_gnn_epochs_and_members_are_bounded() -> None:
    for extra in ({"epochs": 10**9}, {"n_members": 1000}, {"hidden_channels": 10**6}):
        with pytest.raises(PredictorInputError, match="bounds the cost"):
            predictor_kwargs("gnn", "cifar10", 0, extra=extra)


def test_values_are_normalised() -> None:
    got = check_params("p", {"a": Param("float", 0, 1), "b": Param("names", 1, 3)}, {"a": 1, "b": ["x", "y"]})
    assert got == {"a": 1.0, "b": ("x", "y")} and isinstance(got["a"], float)


def test_names_are_checked_against_choices_and_length() -> None:
    p = Param("names", 1, 2, choices=("a", "b", "c"))
    with pytest.raises(PredictorInputError, match="unknown name"):
        p.check("s", ["a", "z"])
    with pytest.raises(PredictorInputError, match="between 1 and 2"):
        p.check("s", ["a", "b", "c"])
    with pytest.raises(PredictorInputError, match="list of names"):
        p.check("s", "a")
