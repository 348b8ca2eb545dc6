"""Priors without the task's labels: what they read, that they rank cells, and BO/RoBoT with them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from archgen.errors import UnknownNameError
from archgen.search import SearchInputError, build_prior, get_strategy, run_search
from archgen.search.priors import Prior
from tests.search.test_loop import CANDIDATES, SPACE, ToyEvaluator


@pytest.mark.parametrize("task", ["cifar10", "cifar100", "ImageNet16-120", "cifar10-valid"])
def test_zero_cost_prior_reads_no_accuracy_and_ranks_cells(ws, task: str) -> None:
    table = ws.table("nb201")
    p = build_prior(table, task, "zero-cost")
    assert not p.uses_labels and p.features.shape == (table.num_rows, len(p.columns))
    assert all("acc" not in c for c in p.columns), p.columns
    assert np.isfinite(p.features).all() and p.features.min() >= 0 and p.features.max() <= 1
    target = {"cifar10-valid": ("cifar10-valid", "val_acc")}.get(task, (task, "test_acc"))
    acc = np.asarray(table.column(*target), dtype=float)
    ok = np.isfinite(acc)
    assert spearmanr(p.score[ok], acc[ok]).statistic > 0.5  # a label-free ranking, far from random


@pytest.mark.parametrize("task", ["cifar10", "cifar10-valid", "cifar100"])
def test_transfer_prior_reads_other_images_only(ws, task: str) -> None:
    p = build_prior(ws.table("nb201"), task, "transfer")
    assert p.uses_labels
    read = {c.split("/")[0] for c in p.columns}
    same = {"cifar10", "cifar10-valid"} if task in ("cifar10", "cifar10-valid") else {task}
    assert not read & same and len(read) == len(p.columns) == 2, p.columns


def test_prior_errors_name_the_problem(ws) -> None:
    with pytest.raises(UnknownNameError, match="prior"):
        build_prior(ws.table("nb201"), "cifar10", "oracle")
    with pytest.raises(UnknownNameError, match="task"):
        build_prior(ws.table("nb201"), "mnist", "zero-cost")
    with pytest.raises(SearchInputError, match="enumerated"):
        build_prior(ws.table("nb101"), "cifar10", "zero-cost")
    other = Prior("zero-cost", "nb101", "cifar10", ("x",), np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(SearchInputError, match="prior is of space"):
        run_search(SPACE, get_strategy("bo", prior=other), ToyEvaluator(), budget=4, candidates=CANDIDATES)
    with pytest.raises(SearchInputError, match="needs a prior"):
        run_search(SPACE, get_strategy("robot"), ToyEvaluator(), budget=4, candidates=CANDIDATES)


def _toy_prior(sp, noise: float) -> Prior:
    """A prior over every NB201 row that knows the toy objective up to noise (convolutions count)."""
    rng = np.random.default_rng(0)
    ops = np.array([sp.from_index(i).ops for i in range(15625)])
    convs = (ops == 3).sum(axis=1) + (ops[:, 0] == 3)
    feats = np.stack([convs / 7 + noise * rng.normal(size=len(ops)), rng.uniform(size=len(ops))], axis=1)
    return Prior("zero-cost", "nb201", "toy", ("toy/convs", "toy/noise"), feats, feats[:, 0])


@pytest.mark.parametrize("name", ["bo", "robot"])
def test_a_good_prior_finds_the_toy_optimum_sooner(ws, name: str) -> None:
    sp = ws.space("nb201")
    kw = {"bo": {"n_init": 6, "pool_size": 64}, "robot": {"bo_queries": 8}}[name]
    first = []
    for seed in range(3):
        h = run_search(sp, get_strategy(name, prior=_toy_prior(sp, 0.02), **kw), ToyEvaluator(), budget=24, batch_size=4,
                       seed=seed, candidates=CANDIDATES)  # fmt: skip
        first.append(h.evaluations_to(7) or 99)
        assert len({e.architecture for e in h.evaluations}) == 24
    assert np.median(first) <= 12, first


def test_transfer_prior_starts_from_its_top_cells_exactly(ws) -> None:
    sp = ws.space("nb201")
    p = _toy_prior(sp, 0.0)
    p = Prior("transfer", p.space, p.task, p.columns, p.features, p.score)
    h = run_search(sp, get_strategy("bo", prior=p, n_init=4, pool_size=64), ToyEvaluator(), budget=4, batch_size=4,
                   seed=0, candidates=CANDIDATES)  # fmt: skip
    assert h.evaluations_to(7) is not None  # the prior's best cell is the optimum: evaluated first


def test_every_registered_strategy_runs_in_the_same_harness(ws) -> None:
    """Contract: every registered strategy spends the budget on distinct cells, with or without a prior."""
    from archgen.search import list_strategies

    sp = ws.space("nb201")
    prior = _toy_prior(sp, 0.05)
    small = {"re": {"population": 8, "sample_size": 4}, "bananas": {"n_init": 6, "pool_size": 32},
             "bo": {"n_init": 6, "pool_size": 32}, "mobo": {"n_init": 6, "pool_size": 32}, "robot": {"bo_queries": 6}}  # fmt: skip
    for name in list_strategies():
        for with_prior in (False, True) if name in list_strategies(takes_prior=True) else (False,):
            if name == "robot" and not with_prior:
                continue  # robot needs its metrics (refused without: see test_prior_errors_name_the_problem)
            kw = small.get(name, {}) | ({"prior": prior} if with_prior else {})
            h = run_search(sp, get_strategy(name, **kw), ToyEvaluator(), budget=16, batch_size=4, seed=0,
                           candidates=CANDIDATES)  # fmt: skip
            archs = [e.architecture for e in h.evaluations]
            assert len(archs) == len(set(archs)) == 16 and h.finished, (name, with_prior)
