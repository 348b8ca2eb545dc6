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
PARAMS = {
    "re": {"population": 10, "sample_size": 5},
    "bananas": {"n_init": 6, "pool_size": 64},
    "bo": {"n_init": 6, "pool_size": 64},
}


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


@pytest.fixture(scope="module")
def small_generator():
    """A small diffusion generator fitted (no labels) on 2,000 random NB201 cells (about a third of its samples valid)."""
    from archgen.generators import get_generator

    cells = list(dict.fromkeys(SPACE.sample(2000, np.random.default_rng(0))))
    small = {"epochs": 30, "steps": 20, "dim": 32, "depth": 2, "heads": 4, "batch_size": 128}
    return get_generator("diffusion", **small).fit(cells)


GEN = {"n_init": 8, "pool_size": 24, "incumbents": 1, "generator_samples": 12, "generator_every": 8,
       "generator_epochs": 20, "generator_steps": 20}  # fmt: skip


def test_bo_pools_the_generators_guided_cells_and_leaves_the_generator_alone(small_generator) -> None:
    bo = get_strategy("bo", generator=small_generator, **GEN)
    pools: list[list[Arch]] = []
    acquire = bo._acquire
    bo._acquire = lambda pool, q: pools.append(pool) or acquire(pool, q)  # type: ignore[method-assign]
    h = run_search(SPACE, bo, ToyEvaluator(), budget=28, batch_size=4, seed=5)  # the whole space: 15,625 cells
    assert len(h.evaluations) == 28 and len({e.architecture for e in h.evaluations}) == 28
    assert bo._generated_at >= 16, "the generator sampled again after generator_every more evaluations"
    assert bo._generated and all(SPACE.is_valid(a) for a in bo._generated)
    seen = {SPACE.parse(e.architecture) for e in h.evaluations}
    last = set(pools[-1])
    assert all(a in last or a in seen for a in bo._generated[:5]), "guided cells join the pool"
    assert small_generator.surrogates_.get("objective") is None, "the strategy guided its own copy"


def test_bo_with_the_generator_resumes_to_the_uninterrupted_result(small_generator, tmp_path) -> None:
    run = lambda **kw: run_search(SPACE, get_strategy("bo", generator=small_generator, **GEN), ToyEvaluator(),
                                  budget=24, batch_size=4, seed=2, **kw)  # fmt: skip
    whole = run()
    ckpt = tmp_path / "search.json"

    def stop(h: SearchHistory) -> None:
        if h.num_batches == 4:
            raise _Stop

    with pytest.raises(_Stop):
        run(checkpoint=ckpt, on_batch=stop)
    resumed = run(checkpoint=ckpt)
    assert [e.architecture for e in resumed.evaluations] == [e.architecture for e in whole.evaluations]


def test_generator_pool_errors_name_the_problem(small_generator) -> None:
    from archgen.generators import get_generator

    with pytest.raises(SearchInputError, match="fitted diffusion generator"):
        get_strategy("bo", generator=get_generator("diffusion"))
    with pytest.raises(SearchInputError, match="generator_samples"):
        get_strategy("bo", generator=small_generator, generator_samples=0)
    with pytest.raises(SearchInputError, match="generator is of space"):
        get_strategy("bo", generator=small_generator).setup(get_space("nasbench_graph"), np.random.default_rng(0))


def test_a_search_request_hands_bo_the_generator(small_generator) -> None:
    from archgen.services.search import SearchParams, strategy_of

    bo = strategy_of(SearchParams(strategy="bo", generator=True), None, True, generator=small_generator)
    assert bo.generator is small_generator
    assert strategy_of(SearchParams(strategy="bo"), None, True, generator=small_generator).generator is None
    with pytest.raises(SearchInputError, match="needs the space's diffusion generator"):
        strategy_of(SearchParams(strategy="bo", generator=True), None, True)
