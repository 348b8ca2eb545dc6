"""A replicated evaluation: the mean of a cell's trainings with two seeds, the first (paid already) charged
nothing again, a stopped replicate NaN; evaluators of different objectives are refused."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.curves.replay import ReplayEvaluator, ReplayTrials
from archgen.errors import SearchInputError
from archgen.evaluators.replicate import Replicated
from archgen.spaces.nb201 import NB201SearchSpace
from tests.curves.test_table import make_table


def test_the_value_is_the_mean_of_two_seeds_and_the_first_is_paid_once() -> None:
    t = make_table(cells=3, seeds=2, epochs=3)
    trials = ReplayTrials(t, seed=0)
    a = NB201SearchSpace().parse(t.cells[1])
    (first,) = ReplayEvaluator(trials, 3).evaluate([a])
    rep = Replicated([ReplayEvaluator(trials, 3), ReplayEvaluator(trials, 3, trial=1)])
    (r,) = rep.evaluate([a])
    s0, s1 = trials.seed[1], trials.seed[(1, 1)]
    assert {s0, s1} == {0, 1}
    assert r.value == pytest.approx((t.val[1, 0, 2] + t.val[1, 1, 2]) / 2) and r.values["replicates"] == 2
    assert r.values["test_acc"] == pytest.approx((t.test[1, 0, 2] + t.test[1, 1, 2]) / 2)
    assert r.cost == pytest.approx(t.seconds[1, s1].sum()) and first.cost == pytest.approx(t.seconds[1, s0].sum())
    with pytest.raises(SearchInputError, match="trial must be in 0..1"):
        ReplayEvaluator(trials, 3, trial=2)  # two seeds: one replicate at most


def test_a_replicate_the_budget_stops_is_nan_and_bad_evaluators_are_refused() -> None:
    t = make_table(cells=2, seeds=2, epochs=2)
    trials = ReplayTrials(t, seed=0, budget=float(t.seconds[0, :, :].sum(axis=1).min()) * 1.01)
    a = NB201SearchSpace().parse(t.cells[0])
    ReplayEvaluator(trials, 2).evaluate([a])
    (r,) = Replicated([ReplayEvaluator(trials, 2), ReplayEvaluator(trials, 2, trial=1)]).evaluate([a])
    assert np.isnan(r.value) and r.values["stopped"] == 1
    with pytest.raises(SearchInputError, match="at least two"):
        Replicated([ReplayEvaluator(trials, 2)])
