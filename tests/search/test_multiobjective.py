"""Multi-objective search: the front, hypervolume, qLogNEHVI over a pool, and the loop's objective checks."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.arch import Arch
from archgen.evaluators.base import EvalResult, Evaluator
from archgen.search import SearchHistory, SearchInputError, get_strategy, run_search
from archgen.search.history import hypervolume, pareto_front
from archgen.search.multiobjective import hypervolume_ratio, true_front
from tests.search.test_loop import CANDIDATES, SPACE


class TwoObjectives(Evaluator):
    """Accuracy-like score (convolutions, the first edge's double) against a size (convolutions, minimised)."""

    name = "toy2"
    space = "nb201"
    objective = "score"

    def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
        out = []
        for a in archs:
            convs = sum(o == 3 for o in a.ops)
            score = convs + 2.5 * (a.ops[0] == 3) + 0.1 * (a.ops[5] == 3)
            out.append(EvalResult(a, float(score), {"score": float(score), "size": float(convs)}, 1.0, "toy"))
        return out


def _all_values() -> np.ndarray:
    res = TwoObjectives()._evaluate(CANDIDATES)
    return np.array([[r.values["score"], -r.values["size"]] for r in res])


def test_pareto_front_and_hypervolume_against_brute_force() -> None:
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(60, 2))
    front = pareto_front(Y)
    for i in range(60):
        dominated = any(np.all(Y[j] >= Y[i]) and np.any(Y[j] > Y[i]) for j in range(60))
        assert (i in front) != dominated
    ref = Y.min(axis=0) - 0.1
    # Monte Carlo estimate of the dominated area
    pts = rng.uniform(ref, Y.max(axis=0), size=(200_000, 2))
    inside = np.zeros(len(pts), dtype=bool)
    for i in front:
        inside |= np.all(pts <= Y[i], axis=1)
    area = np.prod(Y.max(axis=0) - ref) * inside.mean()
    assert hypervolume(Y, ref) == pytest.approx(area, rel=0.02)
    assert hypervolume(Y[front], ref) == pytest.approx(hypervolume(Y, ref))
    assert pareto_front(np.array([[1.0, np.nan], [0.0, 0.0]])) == [1]


@pytest.mark.parametrize("name", ["mobo", "random"])
def test_multi_objective_search_keeps_the_front(name: str) -> None:
    objs = [("score", True), ("size", False)]
    budget = 40 if name == "mobo" else 64
    kw = {"n_init": 6, "pool_size": 64} if name == "mobo" else {}
    h = run_search(SPACE, get_strategy(name, **kw), TwoObjectives(), budget=budget, batch_size=4, seed=2,
                   candidates=CANDIDATES, objectives=objs)  # fmt: skip
    assert h.objectives == [["score", True], ["size", False]]
    Y = h.objective_matrix()
    assert Y.shape == (budget, 2) and np.all(Y[:, 1] <= 0)  # size is minimised: signed
    F = Y[h.front()]
    assert not any(np.all(a >= b) and np.any(a > b) for a in Y for b in F)  # nothing evaluated dominates the front
    table = _all_values()
    ratio = hypervolume_ratio(Y, table)
    assert 0 < ratio <= 1 + 1e-12
    if name == "random":  # every cell evaluated: the whole front
        assert ratio == pytest.approx(1.0) and len(F) == len(true_front(table))
    else:
        assert ratio >= 0.9, ratio
    again = SearchHistory.from_dict(h.to_dict())
    assert again.front() == h.front()


def test_mobo_resumes_to_the_same_history(tmp_path) -> None:
    objs = [("score", True), ("size", False)]
    kw = {"n_init": 6, "pool_size": 64}
    whole = run_search(SPACE, get_strategy("mobo", **kw), TwoObjectives(), budget=20, batch_size=4, seed=5,
                       candidates=CANDIDATES, objectives=objs)  # fmt: skip
    ckpt = tmp_path / "mo.json"

    class Stop(Exception):
        pass

    def stop(h: SearchHistory) -> None:
        if h.num_batches == 3:
            raise Stop

    with pytest.raises(Stop):
        run_search(SPACE, get_strategy("mobo", **kw), TwoObjectives(), budget=20, batch_size=4, seed=5,
                   candidates=CANDIDATES, objectives=objs, checkpoint=ckpt, on_batch=stop)  # fmt: skip
    resumed = run_search(SPACE, get_strategy("mobo", **kw), TwoObjectives(), budget=20, batch_size=4, seed=5,
                         candidates=CANDIDATES, objectives=objs, checkpoint=ckpt)  # fmt: skip
    assert [e.architecture for e in resumed.evaluations] == [e.architecture for e in whole.evaluations]


def test_objective_checks_name_the_problem() -> None:
    run = lambda name, objs: run_search(SPACE, get_strategy(name), TwoObjectives(), budget=4, candidates=CANDIDATES,
                                        objectives=objs)  # fmt: skip
    with pytest.raises(SearchInputError, match="optimises one objective.*mobo"):
        run("bo", [("score", True), ("size", False)])
    with pytest.raises(SearchInputError, match="first objective must be the evaluator's"):
        run("mobo", [("size", False), ("score", True)])
    with pytest.raises(SearchInputError, match="repeat"):
        run("mobo", [("score", True), ("score", False)])


def test_a_given_reference_point_focuses_the_front_and_bad_ones_are_refused() -> None:
    objs = [("score", True), ("size", False)]
    ref = [5.0, -4.5]  # score above 5 with at most 4 convolutions: the accurate end of the toy front
    h = run_search(SPACE, get_strategy("mobo", n_init=6, pool_size=64, ref_point=ref), TwoObjectives(), budget=24,
                   batch_size=4, seed=1, candidates=CANDIDATES, objectives=objs)  # fmt: skip
    Y = h.objective_matrix()
    table = _all_values()
    assert hypervolume_ratio(Y, table, ref) > 0.5  # most of the region asked for is found
    with pytest.raises(SearchInputError, match="ref_point must be finite"):
        get_strategy("mobo", ref_point=[1.0, float("nan")])
