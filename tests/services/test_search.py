"""A search as a service: checked once into a plan (evaluator and prior) that the run takes."""

from __future__ import annotations

import pytest

from archgen.errors import SearchInputError, UnknownNameError
from archgen.evaluators import BenchmarkEvaluator
from archgen.services import search as service
from archgen.services.search import SearchParams, SearchPlan, check_search, execute_search


def test_a_search_becomes_a_plan(ws) -> None:
    plan = check_search(SearchParams(strategy="bo", prior="zero-cost", budget=8), ws)
    assert isinstance(plan, SearchPlan) and isinstance(plan.evaluator, BenchmarkEvaluator)
    assert plan.prior is not None and plan.prior.kind == "zero-cost" and not plan.prior.uses_labels
    assert check_search(SearchParams(strategy="random", budget=8), ws).prior is None


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        (SearchParams(task="mnist"), UnknownNameError, "mnist"),
        (SearchParams(strategy="nope"), UnknownNameError, "nope"),
        (SearchParams(budget=4, batch_size=8), SearchInputError, "batch_size"),
        (SearchParams(strategy="random", prior="zero-cost"), SearchInputError, "takes no prior"),
        (SearchParams(strategy="robot"), SearchInputError, "zero-cost"),
        (SearchParams(strategy="bo", minimize="params"), SearchInputError, "one objective"),
        (SearchParams(strategy="re", generator=True), SearchInputError, "generator"),
        (SearchParams(space="nb101", strategy="random"), SearchInputError, "a sample \\(500 cells\\)"),
    ],
)
def test_bad_searches_are_refused_before_any_work(ws, params: SearchParams, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        check_search(params, ws)


def test_the_budget_bound_is_the_loop_s() -> None:
    from archgen.search.loop import MAX_BUDGET

    assert SearchParams.model_fields["budget"].metadata[-1].le == MAX_BUDGET


def test_a_plan_runs_without_a_second_check(ws, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = check_search(SearchParams(strategy="random", budget=8, batch_size=4), ws)

    def no_check(*_a: object, **_k: object) -> None:
        raise AssertionError("checked twice")

    monkeypatch.setattr(service, "check_search", no_check)
    h = execute_search(plan, ws)
    assert h.finished and len(h.evaluations) == 8
