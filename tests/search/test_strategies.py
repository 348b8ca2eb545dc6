"""Contract suite over every registered search strategy (``list_strategies()``): a new one is picked up.

Each strategy runs a short search on the toy space of ``test_loop`` (64 NB201 cells, optimum 7): with two
objectives if it is multi-objective, with a prior if it takes one. It must fill its budget with distinct
valid cells in batches of the asked size, be reproducible from its seed, and resume from a checkpoint to
the uninterrupted result.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from archgen.search import SearchHistory, get_strategy, list_strategies, run_search
from archgen.search.strategies import Strategy, strategy_class
from tests.search.test_loop import CANDIDATES, SPACE, ToyEvaluator
from tests.search.test_multiobjective import TwoObjectives
from tests.search.test_priors import _toy_prior

#: Small settings, passed to the strategies that take them (the toy space has 64 cells).
SMALL = {"n_init": 6, "pool_size": 64, "population": 10, "sample_size": 5, "bo_queries": 8}
OBJECTIVES = [("score", True), ("size", False)]


@pytest.fixture(scope="module")
def prior(ws):
    return _toy_prior(ws.space("nb201"), 0.05)


@pytest.fixture(scope="module")
def space(ws):
    return ws.space("nb201")  # with its rows (priors are indexed by them)


def _run(name: str, prior, space=SPACE, *, budget: int, seed: int, **kw) -> SearchHistory:
    cls = strategy_class(name)
    params = inspect.signature(cls.__init__).parameters
    args = {k: v for k, v in SMALL.items() if k in params}
    if cls.takes_prior:
        args["prior"] = prior
    multi = cls.multi_objective
    evaluator = TwoObjectives() if multi else ToyEvaluator()
    return run_search(space, get_strategy(name, **args), evaluator, budget=budget, batch_size=4, seed=seed,
                      candidates=CANDIDATES, objectives=OBJECTIVES if multi else None, **kw)  # fmt: skip


def test_the_registry_holds_every_built_in_strategy() -> None:
    assert {"random", "re", "ls", "bananas", "bo", "mobo", "robot"} <= set(list_strategies())


@pytest.mark.parametrize("name", list_strategies())
def test_declares_its_name_and_capabilities(name: str) -> None:
    cls = strategy_class(name)
    assert issubclass(cls, Strategy) and cls.name == name
    for flag in ("multi_objective", "takes_prior", "takes_generator"):
        assert isinstance(getattr(cls, flag), bool), flag
    assert name in list_strategies(multi_objective=cls.multi_objective)
    assert (name in list_strategies(takes_prior=True)) == cls.takes_prior


@pytest.mark.parametrize("name", list_strategies())
def test_fills_its_budget_with_distinct_valid_cells_in_batches(name: str, prior, space) -> None:
    h = _run(name, prior, space, budget=16, seed=0)
    archs = [e.architecture for e in h.evaluations]
    assert h.finished and len(archs) == 16 and len(set(archs)) == 16
    allowed = {SPACE.format(a) for a in CANDIDATES}  # the history keeps string forms
    assert all(a in allowed and SPACE.is_valid(SPACE.parse(a)) for a in archs)
    sizes = np.bincount([e.batch for e in h.evaluations])
    assert sizes.max() == 4 and sizes.min() >= 1 and sizes.sum() == 16


@pytest.mark.parametrize("name", list_strategies())
def test_is_reproducible_from_its_seed(name: str, prior, space) -> None:
    a, b = _run(name, prior, space, budget=12, seed=5), _run(name, prior, space, budget=12, seed=5)
    assert [e.architecture for e in a.evaluations] == [e.architecture for e in b.evaluations]


class _Stop(Exception):
    pass


@pytest.mark.parametrize("name", list_strategies())
def test_resumes_from_its_checkpoint_to_the_uninterrupted_result(name: str, prior, space, tmp_path) -> None:
    whole = _run(name, prior, space, budget=12, seed=2)
    ckpt = tmp_path / "search.json"

    def stop(h: SearchHistory) -> None:
        if h.num_batches == 2:
            raise _Stop

    with pytest.raises(_Stop):
        _run(name, prior, space, budget=12, seed=2, checkpoint=ckpt, on_batch=stop)
    resumed = _run(name, prior, space, budget=12, seed=2, checkpoint=ckpt)
    assert [e.architecture for e in resumed.evaluations] == [e.architecture for e in whole.evaluations]
