"""Multi-fidelity searches: a contract suite over every registered multi-fidelity strategy
(``list_multifidelity_strategies()``: a new one is picked up), successive halving's brackets, the prior's top
cells first and protected, checkpoint/resume, bad input.

The toy problem: NB201 cells scored by their convolutions (the first edge's twice, as in ``test_loop``), read
at three fidelities with noise that shrinks as the fidelity grows, costing 1, 3 and 9 per evaluation.
"""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

from archgen.arch import Arch
from archgen.errors import SearchInputError, UnknownNameError
from archgen.evaluators.base import EvalResult, Evaluator
from archgen.search.multifidelity import (
    Hyperband,
    PriorBand,
    PriorSuccessiveHalving,
    get_multifidelity_strategy,
    list_multifidelity_strategies,
    multifidelity_strategy_class,
    run_multifidelity_search,
)
from archgen.spaces import get_space
from archgen.transfer.prior import PoolPosterior, ReversedPool, Source

SPACE = get_space("nb201")
COSTS = (1.0, 3.0, 9.0)
NOISE = (1.5, 0.6, 0.0)


def score(a: Arch) -> float:
    return float(sum(o == 3 for o in a.ops) + (a.ops[0] == 3))


class Fidelity(Evaluator):
    """The toy score at one fidelity: noise fixed per cell (a function of the cell), shrinking with the rung."""

    name = "toy-fidelity"
    space = "nb201"
    objective = "score"

    def __init__(self, rung: int) -> None:
        super().__init__()
        self.rung = rung

    def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
        out = []
        for a in archs:
            noise = np.random.default_rng(abs(hash(a.ops)) % 2**32).normal() * NOISE[self.rung]
            out.append(EvalResult(a, score(a) + noise, {"score": score(a) + noise}, COSTS[self.rung], "toy"))
        return out


def evaluators() -> list[Evaluator]:
    return [Fidelity(r) for r in range(3)]


def pool_model(good: float = 0.3) -> PoolPosterior:
    """A prior over 200 random cells from a source that knows the score up to noise ``good`` and one that
    knows nothing."""
    rng = np.random.default_rng(7)
    pool = SPACE.sample_distinct(200, rng)
    ref = SPACE.sample_distinct(64, np.random.default_rng(8))

    def knows(cells: list[Arch], r: np.random.Generator) -> np.ndarray:
        return np.array([score(a) for a in cells]) + good * r.normal(size=len(cells))

    sources = [Source("knows", "zero-cost", knows(ref, np.random.default_rng(9))),
               Source("noise", "zero-cost", np.random.default_rng(10).normal(size=64))]  # fmt: skip
    values = {"knows": knows(pool, np.random.default_rng(11)), "noise": np.random.default_rng(12).normal(size=200)}
    return PoolPosterior(pool, values, sources)


def strategy(name: str, **kw):
    cls = multifidelity_strategy_class(name)
    if cls.takes_model:
        kw.setdefault("model", pool_model())
    return get_multifidelity_strategy(name, **kw)


def run(name: str, budget: float = 120.0, seed: int = 0, **kw):
    return run_multifidelity_search(SPACE, strategy(name), evaluators(), budget=budget, batch_size=4, seed=seed,
                                    fidelities=[{"epochs": e} for e in (1, 3, 9)], **kw)  # fmt: skip


def test_the_registry_holds_the_built_in_strategies() -> None:
    assert {"sh", "hyperband", "prior-sh"} <= set(list_multifidelity_strategies())
    assert set(list_multifidelity_strategies(takes_model=True)) == {"prior-sh", "priorband"}
    with pytest.raises(UnknownNameError, match="prior-sh"):
        multifidelity_strategy_class("bohb")


def test_hyperband_starts_its_brackets_at_each_fidelity_in_turn_with_hyperbands_sizes() -> None:
    h = run("hyperband", budget=1000.0)
    fids = [e.fidelity for e in h.evaluations]
    # R = 2, eta 3: bracket s=2 starts 9 cells at rung 0 (3 promoted to rung 1, 1 to rung 2); s=1 starts 5 at rung 1
    # (1 promoted); s=0 is 3 cells at rung 2; then again
    assert fids[:9] == [0] * 9 and fids[9:12] == [1] * 3 and fids[12:13] == [2]
    assert fids[13:18] == [1] * 5 and fids[18:19] == [2] and fids[19:22] == [2] * 3 and fids[22:31] == [0] * 9
    first = h.evaluations[:22]
    assert len({e.architecture for e in first if e.fidelity == 1}) == 3 + 5  # the 5 of bracket s=1 are new cells
    assert {e.architecture for e in first[9:12]} <= {e.architecture for e in first[:9]}  # promoted, not new


@pytest.mark.parametrize("name", list_multifidelity_strategies())
def test_spends_its_budget_in_brackets_that_promote_the_best(name: str) -> None:
    h = run(name)
    assert h.finished and h.budget_unit == "seconds" and len(h.fidelities) == 3
    spent = h.spent()
    last = [e.cost for e in h.evaluations if e.batch == h.num_batches - 1]
    assert 120 <= spent < 120 + sum(last) + 1e-9  # no batch starts once the budget is spent
    assert all(e.cost == COSTS[e.fidelity] for e in h.evaluations)
    # every cell was promoted rung by rung from where its bracket started (the lowest rung but in Hyperband's
    # brackets that start higher), and drawn once
    by: dict[str, list[int]] = {}
    for e in h.evaluations:
        by.setdefault(e.architecture, []).append(int(e.fidelity))
    for fids in by.values():
        assert fids == list(range(fids[0], fids[0] + len(fids)))
        assert fids[0] == 0 or issubclass(multifidelity_strategy_class(name), Hyperband)
    assert h.top_fidelity() == 2 and h.best().fidelity == 2
    sizes = np.bincount([e.batch for e in h.evaluations])
    assert sizes.max() <= 4


@pytest.mark.parametrize("name", list_multifidelity_strategies())
def test_is_reproducible_from_its_seed(name: str) -> None:
    a, b = run(name, seed=5), run(name, seed=5)
    assert [(e.architecture, e.fidelity) for e in a.evaluations] == [
        (e.architecture, e.fidelity) for e in b.evaluations
    ]


class _Stop(Exception):
    pass


@pytest.mark.parametrize("name", list_multifidelity_strategies())
def test_resumes_from_a_checkpoint_to_the_uninterrupted_result(name: str, tmp_path) -> None:
    full = run(name, seed=2)
    ckpt = tmp_path / "h.json"

    def stop(h) -> None:
        if h.num_batches == 5:
            raise _Stop

    with pytest.raises(_Stop):
        run(name, seed=2, checkpoint=ckpt, on_batch=stop)
    assert json.loads(ckpt.read_text())["finished"] is False
    counted = []

    class Counting(Fidelity):
        def _evaluate(self, archs):
            counted.extend(archs)
            return super()._evaluate(archs)

    resumed = run_multifidelity_search(SPACE, strategy(name), [Counting(r) for r in range(3)], budget=120.0,
                                       batch_size=4, seed=2, fidelities=[{"epochs": e} for e in (1, 3, 9)],
                                       checkpoint=ckpt)  # fmt: skip
    assert [(e.architecture, e.fidelity, e.value) for e in resumed.evaluations] == [
        (e.architecture, e.fidelity, e.value) for e in full.evaluations
    ]
    assert len(counted) == len(full.evaluations) - sum(e.batch < 5 for e in full.evaluations)  # none paid twice
    with pytest.raises(SearchInputError, match="another search"):
        run(name, seed=3, checkpoint=ckpt)


def test_the_prior_s_top_cells_come_first_and_the_top_one_reaches_the_highest_fidelity() -> None:
    model = pool_model()
    mean, _ = model.posterior([], [])
    order = [model.pool[int(i)] for i in np.argsort(-mean, kind="stable")]
    h = run_multifidelity_search(SPACE, PriorSuccessiveHalving(model, protect=1), evaluators(), budget=60.0,
                                 batch_size=4, seed=0)  # fmt: skip
    first = [SPACE.parse(e.architecture) for e in h.evaluations if e.fidelity == 0][:9]
    assert first == order[:9]  # the first bracket (9 cells: eta 3, three rungs) is the prior's top cells
    top = SPACE.format(order[0])
    assert [e.fidelity for e in h.evaluations if e.architecture == top] == [0, 1, 2]
    assert h.best().value >= next(e.value for e in h.evaluations if e.architecture == top and e.fidelity == 2)


def test_a_protected_cell_is_promoted_even_when_it_loses() -> None:
    """A prior that is wrong: its top cell is the worst; protected, it still reaches the top rung."""
    model = pool_model()
    inverted = PoolPosterior(model.pool, {k: -v if k == "knows" else v for k, v in model.values.items()}, model.sources)
    h = run_multifidelity_search(SPACE, PriorSuccessiveHalving(inverted, protect=1), evaluators(), budget=40.0,
                                 batch_size=4, seed=0)  # fmt: skip
    mean, _ = inverted.posterior([], [])
    top = SPACE.format(inverted.pool[int(np.argmax(mean))])
    assert [e.fidelity for e in h.evaluations if e.architecture == top] == [0, 1, 2]
    assert h.best().value >= next(e.value for e in h.evaluations if e.architecture == top and e.fidelity == 2)


def test_a_good_prior_finds_better_cells_than_random_brackets() -> None:
    """Median over seeds of the true score of the returned cell (the pool's best is 5: random NB201 cells have
    few of the toy's convolutions)."""
    got = {name: [score(SPACE.parse(run(name, 60.0, seed).best().architecture)) for seed in range(5)]
           for name in ("sh", "prior-sh")}  # fmt: skip
    best = max(score(a) for a in pool_model().pool)
    assert np.median(got["prior-sh"]) == best and np.median(got["prior-sh"]) > np.median(got["sh"]), got


def test_one_fidelity_is_random_search_with_sh() -> None:
    h = run_multifidelity_search(SPACE, strategy("sh"), [Fidelity(2)], budget=36.0, batch_size=2, seed=1)
    assert {e.fidelity for e in h.evaluations} == {0} and len(h.evaluations) == 4
    assert len({e.architecture for e in h.evaluations}) == 4


def test_bad_input_is_refused_naming_the_problem() -> None:
    with pytest.raises(SearchInputError, match="budget"):
        run("sh", budget=0.0)
    with pytest.raises(SearchInputError, match="budget"):
        run("sh", budget=float("nan"))
    with pytest.raises(SearchInputError, match="batch_size"):
        run_multifidelity_search(SPACE, strategy("sh"), evaluators(), budget=10.0, batch_size=0)
    with pytest.raises(SearchInputError, match="at least one evaluator"):
        run_multifidelity_search(SPACE, strategy("sh"), [], budget=10.0)

    class Minimising(Fidelity):
        maximize = False

    with pytest.raises(SearchInputError, match="one objective"):
        run_multifidelity_search(SPACE, strategy("sh"), [Fidelity(0), Minimising(1)], budget=10.0)
    with pytest.raises(SearchInputError, match="eta"):
        get_multifidelity_strategy("sh", eta=1)
    with pytest.raises(SearchInputError, match="protect"):
        get_multifidelity_strategy("prior-sh", model=pool_model(), protect=-1)
    with pytest.raises(SearchInputError, match="unexpected keyword"):
        get_multifidelity_strategy("sh", model=pool_model())


@pytest.mark.parametrize("name", list_multifidelity_strategies())
def test_declares_its_name_and_capabilities(name: str) -> None:
    cls = multifidelity_strategy_class(name)
    assert cls.name == name and isinstance(cls.takes_model, bool)
    assert ("model" in inspect.signature(cls.__init__).parameters) == cls.takes_model


@pytest.mark.parametrize("name", list_multifidelity_strategies())
def test_with_expected_costs_the_budget_is_a_cap(name: str) -> None:
    """No evaluation starts that the budget left cannot pay for: the spent cost never passes the budget when the
    expected costs are the true ones; a batch is cut to what fits, and the history says why the search ended."""
    for budget in (20.0, 57.0, 121.0):
        h = run_multifidelity_search(SPACE, strategy(name), evaluators(), budget=budget, batch_size=4, seed=2,
                                     expected_costs=COSTS)  # fmt: skip
        assert h.finished and budget - COSTS[-1] <= h.spent() <= budget
        assert "stop" in h.result or h.spent() == budget


def test_before_a_rung_is_measured_its_cost_is_the_estimate_scaled_by_what_was_measured() -> None:
    """Estimates three times too low at every rung: after the first batch the measured ratio corrects them, so at
    most that first batch overshoots."""
    h = run_multifidelity_search(SPACE, strategy("sh"), evaluators(), budget=60.0, batch_size=3, seed=0,
                                 expected_costs=[c / 3 for c in COSTS])  # fmt: skip
    assert h.spent() <= 60.0 + 3 * COSTS[0]
    first = [e for e in h.evaluations if e.batch == 0]
    rest = [e for e in h.evaluations if e.batch > 0]
    assert sum(e.cost for e in first) <= 3 * COSTS[0] and rest


def test_a_batch_cut_by_the_budget_resumes_from_its_checkpoint_as_it_ended(tmp_path) -> None:
    ckpt = tmp_path / "h.json"
    h = run_multifidelity_search(SPACE, strategy("sh"), evaluators(), budget=30.0, batch_size=4, seed=5,
                                 expected_costs=COSTS, checkpoint=ckpt)  # fmt: skip
    again = run_multifidelity_search(SPACE, strategy("sh"), evaluators(), budget=30.0, batch_size=4, seed=5,
                                     expected_costs=COSTS, checkpoint=ckpt)  # fmt: skip
    assert again.finished and [e.architecture for e in again.evaluations] == [e.architecture for e in h.evaluations]


def test_priorband_shifts_its_mixture_from_a_misleading_prior_to_the_incumbent() -> None:
    shares = {}
    for name, model in (("good", pool_model(good=0.1)), ("reversed", ReversedPool(pool_model(good=0.1)))):
        pb = PriorBand(model, eta=3)
        run_multifidelity_search(SPACE, pb, evaluators(), budget=200.0, batch_size=4, seed=0)
        shares[name], inc = pb.mixture()
        assert inc is not None and sum(shares[name].values()) == pytest.approx(1.0)
    assert shares["good"]["prior"] > shares["good"]["incumbent"]
    assert shares["reversed"]["prior"] < shares["reversed"]["incumbent"]
    assert shares["reversed"]["prior"] < shares["good"]["prior"]


def test_prior_sh_draws_from_the_posterior_fitted_on_every_rung() -> None:
    s = PriorSuccessiveHalving(pool_model(), eta=3)
    run_multifidelity_search(SPACE, s, evaluators(), budget=80.0, batch_size=4, seed=0)
    archs, y, rungs, weights = s.training_set()
    assert len(set(rungs)) == 3 and len(archs) == len(y) == len(weights)
    assert all(w == pytest.approx(3.0 ** -(2 - r)) for r, w in zip(rungs, weights, strict=True))
    a, b = s.draw(), s.draw()
    assert a.shape == (len(s.pool),) and not np.allclose(a, b)


def test_with_replicate_the_best_is_the_best_mean_of_two_trainings() -> None:
    """The last fidelity repeats the highest one (the toy's noise drawn again): challengers are replicated before
    anything else, and the search's best is the best at that fidelity."""

    class Again(Fidelity):
        def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
            out = []
            for a in archs:
                v = score(a) + np.random.default_rng(abs(hash(a.ops)) % 2**32 + 1).normal() * 0.6
                out.append(EvalResult(a, v, {"score": v}, COSTS[2], "toy-again"))
            return out

    s = PriorBand(pool_model(), replicate=True)
    evs = [Fidelity(0), Fidelity(1), Fidelity(2), Again(2)]
    h = run_multifidelity_search(SPACE, s, evs, budget=300.0, batch_size=2, seed=0)
    reps = [e for e in h.evaluations if e.fidelity == 3]
    assert reps and h.best().fidelity == 3 and h.best().value == max(e.value for e in reps)
    tops = {e.architecture: e.value for e in h.evaluations if e.fidelity == 2}
    assert all(e.architecture in tops for e in reps)  # only cells that reached the highest rung are replicated
    assert s.rungs == 3 and s.rep_rung == 3
