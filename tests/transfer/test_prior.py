"""The label-free prior: sources placed against their references, the prior's vote, weights learned from
evaluations, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

from archgen.errors import PredictorInputError
from archgen.transfer.prior import PoolPosterior, ReversedPool, Source, SourcePrior, normal_scores


def _world(n: int = 400, seed: int = 0):
    """A target and three sources: ``good`` agrees with it, ``bad`` is noise, ``proxy`` half agrees."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    vals = {
        "good": y + 0.3 * rng.normal(size=n),
        "bad": rng.normal(size=n),
        "proxy": 1e6 * np.exp(0.5 * y + rng.normal(size=n)),  # another unit and scale: only ranks matter
    }
    ref = {k: v[: n // 2] for k, v in vals.items()}
    sources = [Source("good", "transfer", ref["good"]), Source("bad", "zero-cost", ref["bad"]),
               Source("proxy", "zero-cost", ref["proxy"])]  # fmt: skip
    return sources, vals, y


def test_a_source_reads_values_as_percentiles_of_its_reference() -> None:
    s = Source("a", "transfer", np.array([5.0, 1, 2, 3, 4, 6, 7, 8, np.nan]))
    p = s.percentile(np.array([0.0, 4.0, 100.0, np.nan]))
    assert p[0] < p[1] < p[2] and 0 < p[0] and p[2] < 1 and np.isnan(p[3])
    assert s.normal_scores(np.array([np.nan]))[0] == 0.0  # missing: the median
    np.testing.assert_allclose(s.percentile(np.array([4.0, 4.5])), [0.5 - 1 / 18, 0.5], atol=1e-12)


def test_with_no_evaluation_it_ranks_by_the_sources() -> None:
    sources, vals, y = _world()
    prior = SourcePrior(sources)
    mean, std = prior.predict(vals)
    vote = prior.features(vals) @ prior.beta0_
    np.testing.assert_allclose(mean, vote)
    assert np.all(std > 0) and prior.n_evaluations_ == 0
    assert kendalltau(mean, y)[0] > 0.3
    w = prior.weights
    assert w["bad"] == pytest.approx(w["proxy"]) and w["good"] == pytest.approx(2 * w["bad"])  # group, then equal
    pct, pstd = prior.percentile(vals)
    assert np.all((pct > 0) & (pct < 100) & (pstd > 0))


def test_weights_move_toward_the_source_that_agrees_with_the_evaluations() -> None:
    sources, vals, y = _world()
    prior = SourcePrior(sources)
    before = prior.weights
    tau0 = kendalltau(prior.predict(vals)[0], y)[0]
    pick = np.random.default_rng(1).choice(len(y), 40, replace=False)
    prior.fit({k: v[pick] for k, v in vals.items()}, y[pick])
    after = prior.weights
    assert after["good"] > before["good"] and abs(after["bad"]) < abs(before["bad"])
    assert prior.group_weights["transfer"] > 0.5
    assert kendalltau(prior.predict(vals)[0], y)[0] > tau0
    # a source the evaluations contradict loses its weight the other way
    flipped = SourcePrior(sources).fit({k: v[pick] for k, v in vals.items()}, -y[pick])
    assert flipped.weights["good"] < 0


def test_more_evaluations_narrow_the_uncertainty() -> None:
    sources, vals, y = _world()
    few, many = SourcePrior(sources), SourcePrior(sources)
    few.fit({k: v[:5] for k, v in vals.items()}, y[:5])
    many.fit({k: v[:200] for k, v in vals.items()}, y[:200])
    assert np.mean(many.predict(vals)[1]) < np.mean(few.predict(vals)[1])


def test_thompson_draws_sample_the_coefficients_and_shrink_as_evaluations_agree() -> None:
    sources, vals, y = _world()
    spread = []
    for n in (0, 10, 200):
        prior = SourcePrior(sources).fit({k: v[:n] for k, v in vals.items()}, y[:n]) if n else SourcePrior(sources)
        rng = np.random.default_rng(0)
        draws = np.stack([prior.sample(vals, rng) for _ in range(300)])
        spread.append(float(draws.std(axis=0).mean()))
        mean, std = prior.predict(vals, noise=False)
        np.testing.assert_allclose(draws.mean(axis=0), mean, atol=4 * std.max() / np.sqrt(300) + 1e-9)
        np.testing.assert_allclose(draws.std(axis=0), std, rtol=0.2)
    assert spread[0] > spread[1] > spread[2]
    # with the observation noise in a draw (sd sqrt(1 - rho0^2) = 0.8 whatever the evaluations), this fails
    assert spread[2] < 0.25 < np.sqrt(1 - 0.6**2)


def test_each_rung_s_values_are_ranked_among_themselves_and_weighted() -> None:
    sources, vals, y = _world()
    two = {k: np.concatenate([v[:40], v[40:80]]) for k, v in vals.items()}
    rungs = np.repeat([0, 1], 40)
    y2 = np.concatenate([y[:40], y[40:80]])
    shifted = y2 + 1000.0 * rungs  # a higher fidelity's accuracies on another scale
    a = SourcePrior(sources).fit(two, y2, rungs=rungs)
    b = SourcePrior(sources).fit(two, shifted, rungs=rungs)
    np.testing.assert_allclose(a.coef_, b.coef_)
    c = SourcePrior(sources).fit(two, shifted)  # ranked together: the rung, not the cell, decides
    assert not np.allclose(b.coef_, c.coef_)
    light = SourcePrior(sources).fit(two, y2, rungs=rungs, weights=np.where(rungs == 0, 0.1, 1.0))
    assert np.trace(light.cov_) > np.trace(a.cov_)  # a down-weighted rung says less
    with pytest.raises(PredictorInputError, match="weights"):
        SourcePrior(sources).fit(two, y2, weights=np.zeros(80))


def test_a_reversed_pool_ranks_the_pool_backwards() -> None:
    sources, vals, y = _world()
    pool = PoolPosterior(list(range(len(y))), vals, sources)
    mean, _ = pool.posterior([], [])
    rev, _ = ReversedPool(pool).posterior([], [])
    np.testing.assert_allclose(rev, -mean, atol=1e-9)
    assert kendalltau(rev, y)[0] < -0.3


def test_normal_scores_are_rank_based() -> None:
    z = normal_scores(np.array([3.0, 1.0, 2.0, 100.0]))
    assert np.all(np.diff(z[[1, 2, 0, 3]]) > 0) and abs(z.mean()) < 1e-12


def test_bad_input_is_refused_with_the_problem_named() -> None:
    sources, vals, y = _world()
    with pytest.raises(PredictorInputError, match="at least 8"):
        Source("a", "transfer", np.array([1.0, np.nan]))
    with pytest.raises(PredictorInputError, match="group"):
        Source("a", "tables", np.arange(10.0))
    with pytest.raises(PredictorInputError, match="repeat"):
        SourcePrior([sources[0], sources[0]])
    with pytest.raises(PredictorInputError, match="at least one"):
        SourcePrior([])
    with pytest.raises(PredictorInputError, match="rho0"):
        SourcePrior(sources, rho0=1.5)
    prior = SourcePrior(sources)
    with pytest.raises(PredictorInputError, match="missing for sources: bad"):
        prior.predict({"good": vals["good"], "proxy": vals["proxy"]})
    with pytest.raises(PredictorInputError, match="different numbers"):
        prior.predict(vals | {"bad": vals["bad"][:3]})
    with pytest.raises(PredictorInputError, match="finite"):
        prior.fit({k: v[:3] for k, v in vals.items()}, np.array([1.0, np.nan, 2.0]))
    with pytest.raises(PredictorInputError, match="evaluations"):
        prior.fit({k: v[:3] for k, v in vals.items()}, y[:4])
