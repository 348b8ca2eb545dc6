"""The replay evaluator: a trial keeps its seed, a promotion pays only its new epochs, the value is the validation
curve's, parallel workers' finish order is simulated, and the real search loop runs against it."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.curves.replay import CandidateSpace, ReplayClock, ReplayEvaluator, ReplayTrials
from archgen.errors import SearchInputError
from archgen.search.multifidelity import SuccessiveHalving, run_multifidelity_search
from archgen.spaces.nb201 import NB201SearchSpace
from tests.curves.test_table import make_table


def test_a_promotion_pays_only_its_new_epochs_and_keeps_the_trials_seed() -> None:
    t = make_table(cells=4, seeds=3, epochs=3)
    trials = ReplayTrials(t, seed=7)
    sp = NB201SearchSpace()
    a = sp.parse(t.cells[2])
    low, high = ReplayEvaluator(trials, 1), ReplayEvaluator(trials, 3)
    (r1,) = low.evaluate([a])
    s = trials.seed[2]
    assert r1.value == pytest.approx(t.val[2, s, 0]) and r1.cost == pytest.approx(t.seconds[2, s, 0])
    assert r1.values["test_acc"] == pytest.approx(t.test[2, s, 0]) and r1.fidelity == 1
    (r3,) = high.evaluate([a])
    assert trials.seed[2] == s  # the same curve
    assert r3.value == pytest.approx(t.val[2, s, 2])
    assert r3.cost == pytest.approx(t.seconds[2, s, 1:].sum())  # epochs 2 and 3 only
    (again,) = low.evaluate([a])
    assert again.cost == 0.0  # paid already
    assert trials.seconds == pytest.approx(t.seconds[2, s].sum())


def test_the_seed_drawn_varies_with_the_search_seed_and_only_complete_trainings_are_drawn() -> None:
    t = make_table(cells=3, seeds=3, epochs=2)
    t.val[0, 2, 1] = np.nan  # seed 2 of cell 0 incomplete
    drawn = {ReplayTrials(t, seed=k).seed_of(0) for k in range(40)}
    assert drawn == {0, 1}
    t.val[1, :, 0] = np.nan
    with pytest.raises(SearchInputError, match="no complete training"):
        ReplayTrials(t).seed_of(1)


def test_the_clock_simulates_workers_finish_order() -> None:
    c = ReplayClock(workers=2)
    ends = c.batch([3.0, 1.0, 1.0, 2.0])  # 3 on w0; 1, 1 then 2 on w1
    assert ends == [3.0, 1.0, 2.0, 4.0] and c.now == 4.0
    assert c.batch([1.0]) == [5.0]  # the next batch starts when the last one ended


def test_cells_outside_the_table_are_refused() -> None:
    t = make_table(cells=2)
    ev = ReplayEvaluator(ReplayTrials(t), 1)
    other = next(
        a
        for a in NB201SearchSpace().sample(50, np.random.default_rng(1))
        if NB201SearchSpace().format(a) not in t.cells
    )
    with pytest.raises(SearchInputError, match="not a candidate"):
        ev.evaluate([other])


def test_successive_halving_runs_unchanged_against_the_table_within_its_candidates() -> None:
    t = make_table(cells=12, seeds=2, epochs=3)
    trials = ReplayTrials(t, seed=0, workers=2)
    space = CandidateSpace(t.cells)
    evs = [ReplayEvaluator(trials, e) for e in (1, 3)]
    h = run_multifidelity_search(space, SuccessiveHalving(eta=3), evs, budget=1e9, batch_size=2, seed=0)
    assert {e.architecture for e in h.evaluations} <= set(t.cells)
    assert h.spent() == pytest.approx(trials.seconds)  # the loop's charges are the table's seconds
    promoted = [e for e in h.evaluations if e.fidelity == 1]
    for e in promoted:  # each promotion paid epochs 2..3 of its trial's curve
        r = t.row(e.architecture)
        assert e.cost == pytest.approx(t.seconds[r, trials.seed[r], 1:].sum())
    assert trials.clock.now < trials.seconds  # two simulated workers
