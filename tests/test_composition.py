"""The composition root registers every built-in kind once; a contract over every registered job kind."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest
from pydantic import BaseModel

from archgen import composition
from archgen.artifacts import get_artifact_type
from archgen.errors import JobParamsError, UnknownNameError
from archgen.evaluators import list_evaluators
from archgen.generators import list_generators
from archgen.jobs import get_job_kind, list_job_kinds
from archgen.predictors import list_predictors
from archgen.registry import Registry
from archgen.search import list_strategies


def test_the_built_in_job_kinds_are_all_there() -> None:
    assert set(list_job_kinds()) >= {"train_predictor", "zero_cost", "train_generator", "generate", "search",
                                     "train", "add_task", "train_supernet"}  # fmt: skip


def test_every_declared_kind_is_registered() -> None:
    assert {cls.name for cls in composition.PREDICTORS} <= set(list_predictors())
    assert {cls.name for cls in composition.GENERATORS} <= set(list_generators())
    assert {cls.name for cls in composition.STRATEGIES} <= set(list_strategies())
    assert {cls.name for cls in composition.EVALUATORS} <= set(list_evaluators())
    assert {spec.name for spec in composition.BUILTIN_KINDS} <= set(list_job_kinds())
    for artifact_type in composition.ARTIFACT_TYPES:
        assert get_artifact_type(artifact_type.name) is artifact_type


def test_registering_again_changes_nothing() -> None:
    before = list_predictors(), list_job_kinds()
    composition.register_builtins()
    assert (list_predictors(), list_job_kinds()) == before


def test_a_registry_without_its_members_names_the_composition_module() -> None:
    with pytest.raises(UnknownNameError, match=r"archgen\.composition"):
        Registry("widget").get("lgbm")


def test_the_registries_import_none_of_their_members() -> None:
    """A fresh process that imports only the registries sees them empty (the layers point one way)."""
    code = (
        "import sys\n"
        "from archgen.predictors.base import list_predictors\n"
        "from archgen.jobs.base import list_job_kinds\n"
        "from archgen.artifacts import ArtifactStore\n"
        "assert list_predictors() == [] and list_job_kinds() == [], (list_predictors(), list_job_kinds())\n"
        "assert 'archgen.composition' not in sys.modules and 'archgen.services.jobs' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.parametrize("name", list_job_kinds())
def test_job_kind_contract(name: str) -> None:
    kind = get_job_kind(name)
    assert kind.name == name and kind.description.strip()
    assert issubclass(kind.params, BaseModel)
    assert kind.params.model_config.get("extra") == "forbid", "unknown params must be a 422, not ignored"
    assert kind.params.model_json_schema()["type"] == "object"
    assert len(inspect.signature(kind.run).parameters) == 2  # run(params, ctx)
    assert kind.max_runtime_s is None or kind.max_runtime_s > 0
    # a worker imports kind.module to have the kind registered
    importlib.import_module(kind.module)
    assert get_job_kind(name) is kind
    with pytest.raises(JobParamsError, match="no_such_parameter"):
        kind.validate({"no_such_parameter": 1})
