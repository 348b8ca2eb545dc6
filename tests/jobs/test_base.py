"""Job kinds: registered from any module with a params model; the context's reports."""

from __future__ import annotations

import pytest

from archgen.errors import UnknownNameError
from archgen.jobs import list_job_kinds
from archgen.jobs.base import JobKind, JobParamsError, get_job_kind, job_kind_registry
from tests.jobs.conftest import CounterParams, counter


def test_any_module_registers_a_kind_and_the_registry_is_restored() -> None:
    kind = JobKind("test_tmp", counter, "test", CounterParams, __name__)
    with job_kind_registry().temporarily("test_tmp", kind):
        assert get_job_kind("test_tmp").module == __name__
        assert get_job_kind("test_tmp").validate({"n": 3}) == CounterParams(n=3)
        with pytest.raises(JobParamsError, match="n"):
            get_job_kind("test_tmp").validate({"n": "three"})
    assert "test_tmp" not in list_job_kinds()
    with pytest.raises(UnknownNameError, match="train_predictor"):
        get_job_kind("test_tmp")


def test_builtin_kinds() -> None:
    assert {"train_predictor", "zero_cost"} <= set(list_job_kinds())
