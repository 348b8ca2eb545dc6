"""Zero-cost predictors: the label-free vote on the published table, the learned combination."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.errors import PredictorInputError, UnknownNameError
from archgen.predictors import get_predictor
from archgen.predictors.metrics import spearman
from archgen.predictors.zc_ensemble import _percentiles


def test_vote_on_published_scores_beats_each_proxy(ws) -> None:
    """On every NB201 cell, the default vote ranks test accuracy better than its proxies do alone."""
    table = ws.table("nb201")
    sp = table.search_space
    archs = [sp.from_index(i) for i in range(table.num_rows)]
    acc = table.column("cifar10", "test_acc")
    vote = get_predictor("zc_vote", data=ws, task="cifar10", source="table").predict(archs)
    assert np.isfinite(vote).all()  # unscored cells take their isomorphic twin's score
    rho = spearman(acc, vote)
    assert rho > 0.85
    for p in ("synflow", "jacov", "nwot", "params"):
        single = get_predictor("zc", data=ws, task="cifar10", proxy=p, source="table").predict(archs)
        assert spearman(acc, single) < rho


def test_percentiles_against_a_reference_do_not_depend_on_the_batch() -> None:
    ref = np.arange(100.0)
    a = _percentiles(np.array([10.0, 90.0]), ref)
    b = _percentiles(np.array([10.0]), ref)
    assert a[0] == b[0] == pytest.approx(0.105)
    within = _percentiles(np.array([3.0, 1.0, np.nan, 2.0]), None)
    np.testing.assert_allclose(within, [5 / 6, 1 / 6, np.nan, 0.5])


def test_bad_settings_are_typed(split, ws) -> None:
    te = split[2]
    with pytest.raises(UnknownNameError):
        get_predictor("zc", data=ws, source="cloud").predict(te)
    with pytest.raises(UnknownNameError, match="synflow"):
        get_predictor("zc_vote", data=ws, proxies=["synflo"], source="table").predict(te)
    with pytest.raises(PredictorInputError, match="publishes no"):
        get_predictor("zc", data=ws, task="cifar100", proxy="zen", source="table").predict(te)
