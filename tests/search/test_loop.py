"""run_search and the strategies: toy optimum, distinct batches, checkpoint/resume, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archgen.arch import Arch
from archgen.errors import UnknownNameError
from archgen.evaluators.base import EvalResult, Evaluator
from archgen.search import SearchHistory, SearchInputError, get_strategy, list_strategies, run_search
from archgen.spaces import get_space

SPACE = get_space("nb201")
#: The toy space: NB201 cells whose six edges are each skip_connect (1) or nor_conv_3x3 (3): 64 cells.
_EDGES = SPACE.sample(1, np.random.default_rng(0))[0].edges  # NB201's fixed DAG
CANDIDATES = [Arch("nb201", tuple(1 + 2 * ((k >> e) & 1) for e in range(6)), _EDGES) for k in range(64)]
PARAMS = {"re": {"population": 10, "sample_size": 5}, "bananas": {"n_init": 6, "pool_size": 64}, "bo": {"n_init": 6, "pool_size": 64}}


class ToyEvaluator(Evaluator):
    """Convolutions count, the first edge's most: the optimum is the all-conv cell (value 7)."""

    name = "toy"
    space = "nb201"
    objective = "score"

    def __init__(self, maximize: bool = True) -> None:
        super().__init__()
        self.maximize = maximize

    def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
        out = []
        for a in archs:
            v = sum(o == 3 for o in a.ops) + (a.ops[0] == 3)
            v = v if self.maximize else -v
            out.append(EvalResult(a, float(v), {"score": float(v)}, 1.0, "toy"))
        return out


def test_toy_candidates_are_valid_and_distinct() -> None:
    assert len(set(CANDIDATES)) == 64 and all(SPACE.is_valid(a) for a in CANDIDATES)


@pytest.mark.parametrize("name", ["random", "re", "ls", "bananas", "bo"])
def test_each_strategy_finds_the_optimum_of_a_toy_space(name: str) -> None:
    assert name in list_strategies()
    budget = 64 if name == "random" else 40
    h = run_search(SPACE, get_strategy(name, **PARAMS.get(name, {})), ToyEvaluator(), budget=budget, batch_size=4,
                   seed=3, candidates=CANDIDATES)  # fmt: skip
    assert h.best() is not None and h.best().value == 7, (name, h.best())
    assert h.finished and len(h.evaluations) == budget
    assert np.all(np.diff(h.best_so_far()) >= 0)


@pytest.mark.parametrize("name", ["re", "bo"])
def test_minimising_evaluator_is_searched_the_right_way(name: str) -> None:
    h = run_search(SPACE, get_strategy(name, **PARAMS.get(name, {})), ToyEvaluator(maximize=False), budget=40,
                   batch_size=4, seed=3, candidates=CANDIDATES)  # fmt: skip
    assert h.best().value == -7 and not h.maximize and np.all(np.diff(h.best_so_far()) <= 0)


@pytest.mark.parametrize("name", ["random", "re", "ls", "bananas", "bo"])
def test_batches_are_distinct_and_nothing_is_evaluated_twice(name: str) -> None:
    h = run_search(SPACE, get_strategy(name, **PARAMS.get(name, {})), ToyEvaluator(), budget=24, batch_size=4,
                   seed=1, candidates=CANDIDATES)  # fmt: skip
    archs = [e.architecture for e in h.evaluations]
    assert len(set(archs)) == len(archs) == 24
    sizes = np.bincount([e.batch for e in h.evaluations])
    assert sizes.max() == 4 and sizes.sum() == 24


class _Stop(Exception):
    pass


@pytest.mark.parametrize("name", ["re", "ls", "bananas", "bo"])
def test_a_resumed_search_equals_an_uninterrupted_one(name: str, tmp_path) -> None:
    whole = run_search(SPACE, get_strategy(name, **PARAMS.get(name, {})), ToyEvaluator(), budget=30, batch_size=3,
                       seed=7, candidates=CANDIDATES)  # fmt: skip
    ckpt = tmp_path / "search.json"

    def stop(h: SearchHistory) -> None:
        if h.num_batches == 4:
            raise _Stop

    with pytest.raises(_Stop):
        run_search(SPACE, get_strategy(name, **PARAMS.get(name, {})), ToyEvaluator(), budget=30, batch_size=3,
                   seed=7, candidates=CANDIDATES, checkpoint=ckpt, on_batch=stop)  # fmt: skip
    first = sum(e.batch < 4 for e in whole.evaluations)
    assert len(SearchHistory.load(ckpt).evaluations) == first and not SearchHistory.load(ckpt).finished
    ev = ToyEvaluator()
    resumed = run_search(SPACE, get_strategy(name, **PARAMS.get(name, {})), ev, budget=30, batch_size=3, seed=7,
                         candidates=CANDIDATES, checkpoint=ckpt)  # fmt: skip
    assert [e.architecture for e in resumed.evaluations] == [e.architecture for e in whole.evaluations]
    assert ev.queries == 30 - first, "the recorded batches are replayed, not paid again"
    assert SearchHistory.load(ckpt).finished


def test_bad_requests_name_the_problem(tmp_path) -> None:
    run = lambda **kw: run_search(SPACE, get_strategy("random"), ToyEvaluator(), candidates=CANDIDATES, **kw)
    with pytest.raises(SearchInputError, match="budget"):
        run(budget=0)
    with pytest.raises(SearchInputError, match="batch_size"):
        run(budget=4, batch_size=5)
    with pytest.raises(UnknownNameError, match="magic"):
        get_strategy("magic")
    with pytest.raises(UnknownNameError, match="acquisition"):
        get_strategy("bo", acquisition="ei-ish")
    with pytest.raises(SearchInputError, match="population"):
        get_strategy("re", population=1)
    with pytest.raises(SearchInputError, match="strategy .random."):
        get_strategy("random", pool_size=3)
    with pytest.raises(SearchInputError, match="evaluates"):
        run_search(get_space("nb101"), get_strategy("random"), ToyEvaluator(), budget=3)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SearchInputError, match="not a search history"):
        run(budget=4, checkpoint=bad)
    other = tmp_path / "other.json"
    run(budget=4, seed=1, checkpoint=other)
    with pytest.raises(SearchInputError, match="another search"):
        run(budget=4, seed=2, checkpoint=other)
    assert json.loads(other.read_text())["seed"] == 1  # the other search's record is left as it was
