"""The predictor contract, run over every registered predictor.

Each predictor is built with small settings (few members, epochs, a tiny
network for the proxies) so that the suite runs in CI; the benchmarks measure
the full-size ones. Each is fitted once per test run, twice at once in two
threads with the same seed (which must give identical predictions); the tests
share that fit.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from archgen.artifacts import ArtifactRecord, ArtifactStore
from archgen.errors import (
    NoDataError,
    NotFittedError,
    PredictorInputError,
    UnknownNameError,
    UnsupportedOperationError,
    UnsupportedSpaceError,
)
from archgen.predictors import get_predictor, list_predictors, predictor_class
from archgen.predictors.base import CallbackMonitor, Predictor
from archgen.predictors.metrics import coverage, kendall_tau

TINY_NET = {"batch_size": 8, "C": 4, "N": 1}
#: Fast settings per registered predictor: a new predictor must add itself here.
FAST: dict[str, dict[str, Any]] = {
    "lgbm": {"task": "cifar10", "n_estimators": 30, "n_bags": 3},
    "gp": {"task": "cifar10"},
    "gnn": {"task": "cifar10", "n_members": 2, "epochs": 30},
    "stack": {"task": "cifar10", "members": ["lgbm", "zc_learned"]},
    "zc": {"task": "cifar10", "proxy": "synflow", **TINY_NET},
    "zc_vote": {"task": "cifar10", "source": "table"},
    "zc_learned": {"task": "cifar10", "source": "table"},
    "parzc": {"task": "cifar10", "epochs": 20, "mc_samples": 4, **TINY_NET},
    "supernet": {
        "task": "cifar10",
        "epochs": 2,
        "C": 4,
        "N": 1,
        "resolution": 8,
        "train_images": 2000,
        "batch_size": 64,
        "calib_batches": 1,
        "eval_images": 200,
    },
}
NAMES = list_predictors()
#: Predictors whose fast settings carry no signal of their own: the supernet predictor's CI supernet trains for
#: seconds (Kendall tau of its estimates about 0; its ridge leans on the encoding alone). Its level on the top
#: cells is measured at full size by benchmarks/bench_supernet_predictor.py (BENCHMARKS.md, "supernet predictor").
NO_SIGNAL_AT_FAST_SETTINGS = {"supernet"}
#: 1-sigma coverage on 400 held-out cells after fitting on 40 (a calibrated Gaussian gives .683).
COVERAGE_BAND = (0.45, 0.92)
#: Mean absolute error on 60 cells of the true top 5% after fitting on 40 (the fast settings give .9-1.7;
#: 1-sigma coverage there is reported by ``archgen bench predictors``, not banded here: see BENCHMARKS.md).
TOP_MAE_BOUND = 2.5


def make(name: str, ws, **extra: object) -> Predictor:
    return get_predictor(name, data=ws, **{**FAST[name], **extra})


class Fits:
    """Each predictor fitted once per session (twice at once, in two threads), with the progress it reported."""

    def __init__(self, ws, split) -> None:
        self.ws, self.split = ws, split
        self._fits: dict[str, tuple[Predictor, Predictor, list[float]]] = {}

    def get(self, name: str) -> tuple[Predictor, Predictor, list[float]]:
        if name not in self._fits:
            tr, ytr, _, _ = self.split
            preds = [make(name, self.ws), make(name, self.ws)]
            progress: list[float] = []
            errors: list[BaseException] = []

            def fit(k: int) -> None:
                try:
                    mon = CallbackMonitor(lambda f, _m: progress.append(f)) if k == 0 else None
                    assert preds[k].fit(tr, ytr, monitor=mon) is preds[k]
                except BaseException as e:  # re-raised in the test thread
                    errors.append(e)

            threads = [threading.Thread(target=fit, args=(k,)) for k in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=600)
            if errors:
                raise errors[0]
            self._fits[name] = (preds[0], preds[1], progress)
        return self._fits[name]


@pytest.fixture(scope="session")
def fits(ws, split) -> Fits:
    return Fits(ws, split)


def test_every_predictor_has_fast_settings() -> None:
    assert sorted(FAST) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_declares_name_paper_and_capabilities(name: str) -> None:
    cls = predictor_class(name)
    assert cls.name == name
    assert cls.paper, f"{name} must cite its paper"
    assert cls.capabilities.min_train >= 0


@pytest.mark.parametrize("name", NAMES)
def test_params_round_trip(name: str, ws) -> None:
    p = make(name, ws)
    again = get_predictor(name, **p.get_params())
    assert again.get_params() == p.get_params()
    assert "data" not in p.get_params()


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_in_two_threads_gives_identical_predictions(name: str, fits, split) -> None:
    a, b, _ = fits.get(name)
    te = split[2]
    ma, sa = a.predict_with_uncertainty(te)
    mb, sb = b.predict_with_uncertainty(te)
    np.testing.assert_array_equal(ma, mb)
    np.testing.assert_array_equal(sa, sb)


@pytest.mark.parametrize("name", NAMES)
def test_fit_reports_progress_that_ends_at_one(name: str, fits) -> None:
    progress = fits.get(name)[2]
    assert progress and progress[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in progress)


@pytest.mark.parametrize("name", NAMES)
def test_predicts_shape_and_uncertainty(name: str, fits, split) -> None:
    p = fits.get(name)[0]
    te = split[2]
    pred = p.predict(te)
    assert pred.shape == (len(te),)
    assert np.isfinite(pred).all()
    mean, std = p.predict_with_uncertainty(te)
    assert mean.shape == std.shape == (len(te),)
    assert (std >= 0).all()
    np.testing.assert_allclose(mean, pred, rtol=1e-6, atol=1e-6)
    if p.capabilities.has_uncertainty:
        assert (std > 0).any()
    else:
        assert (std == 0).all()
    assert p.predict([]).shape == (0,)


@pytest.mark.parametrize("name", NAMES)
def test_learned_predictors_beat_chance(name: str, fits, split) -> None:
    """On real cells every predictor ranks better than chance (40 training cells, 30 test)."""
    _, _, te, yte = split
    assert kendall_tau(yte, fits.get(name)[0].predict(te)) > 0.2


@pytest.mark.parametrize("name", [n for n in NAMES if predictor_class(n).capabilities.has_uncertainty])
def test_one_sigma_coverage_is_in_band_on_heldout_cells(name: str, fits, heldout) -> None:
    archs, y = heldout
    mean, std = fits.get(name)[0].predict_with_uncertainty(archs)
    cov = coverage(y, mean, std)
    lo, hi = COVERAGE_BAND
    assert lo <= cov <= hi, f"{name}: 1-sigma coverage {cov:.2f} outside [{lo}, {hi}] on {len(y)} held-out cells"


@pytest.mark.parametrize(
    "name",
    [n for n in NAMES if predictor_class(n).capabilities.has_uncertainty and n not in NO_SIGNAL_AT_FAST_SETTINGS],
)
def test_does_not_overshoot_the_space_maximum_on_the_top_cells(name: str, fits, top_cells, nb201_data) -> None:
    """On the true top 5% (issue 11): at most 5% predicted above the space's best value by more than their 1 sigma,
    and the level within TOP_MAE_BOUND (the old ranking-loss GNN was 3.1 points above it at 469 cells)."""
    archs, y = top_cells
    mean, std = fits.get(name)[0].predict_with_uncertainty(archs)
    over = float(np.mean(mean - std > nb201_data[1].max()))
    mae = float(np.mean(np.abs(mean - y)))
    assert over <= 0.05, f"{name}: {over:.0%} of the top cells predicted above the space's maximum by more than 1 sigma"
    assert mae <= TOP_MAE_BOUND, f"{name}: mean absolute error {mae:.2f} on the top 5% (bound {TOP_MAE_BOUND})"


@pytest.mark.parametrize("name", [n for n in NAMES if predictor_class(n).capabilities.requires_fit])
def test_unfitted_predict_raises(name: str, split, ws) -> None:
    with pytest.raises(NotFittedError):
        make(name, ws).predict(split[2])


@pytest.mark.parametrize("name", NAMES)
def test_bad_training_input_is_typed(name: str, split, ws) -> None:
    tr, ytr, _, _ = split
    p = make(name, ws)
    bad = ytr.copy()
    bad[3] = np.nan
    with pytest.raises(PredictorInputError, match="position 3"):
        p.fit(tr, bad)
    with pytest.raises(PredictorInputError, match="shape"):
        p.fit(tr, ytr[:-1])
    with pytest.raises(PredictorInputError):
        p.fit([], [])
    with pytest.raises(PredictorInputError, match="position 1"):
        p.fit([tr[0], "not an arch", *tr[2:]], ytr)
    if p.capabilities.min_train > 1:
        n = p.capabilities.min_train - 1
        with pytest.raises(PredictorInputError, match="at least"):
            p.fit(tr[:n], ytr[:n])


@pytest.mark.parametrize("name", NAMES)
def test_other_space_is_refused(name: str, fits) -> None:
    from archgen.spaces import get_space

    other = get_space("nb101").sample(2, np.random.default_rng(0))
    with pytest.raises(UnsupportedSpaceError):
        fits.get(name)[0].predict(other)


@pytest.mark.parametrize("name", NAMES)  # every predictor reads label-free data with its default features
def test_data_features_without_a_workspace_say_so(name: str, split) -> None:
    tr, ytr, te, _ = split
    p = get_predictor(name, **FAST[name])  # no data bound
    with pytest.raises(NoDataError, match="Workspace"):
        p.fit(tr, ytr) if p.capabilities.requires_fit else p.predict(te)


@pytest.mark.parametrize("name", NAMES)
def test_differentiable_predictors_expose_a_torch_mean(name: str, fits, split, ws) -> None:
    import torch

    p = fits.get(name)[0]
    space = ws.space("nb201")
    adj, x = space.to_dense_batch(split[2][:4])
    if not p.is_differentiable():
        with pytest.raises(UnsupportedOperationError):
            p.torch_mean(adj, x)
        return
    x = x.clone().requires_grad_(True)
    out = p.torch_mean(adj, x)
    assert out.shape == (4,)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_unknown_predictor_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match="lgbm"):
        get_predictor("xgboost")
    with pytest.raises(PredictorInputError):
        get_predictor("lgbm", n_trees=3)


@pytest.mark.parametrize("name", NAMES)
def test_store_round_trip_gives_same_predictions(name: str, fits, split, tmp_path, ws) -> None:
    tr, _, te, _ = split
    p = fits.get(name)[0]
    store = ArtifactStore(tmp_path)
    rec = ArtifactRecord(
        id=f"{name}-test",
        kind=name,
        space="nb201",
        task="cifar10",
        target=["cifar10-valid", "val_acc"],
        params={},
        seed=0,
        train_archs=[str(a) for a in tr],
    )
    store.save(p, rec)
    loaded, rec2 = store.load(rec.id, space="nb201", data=ws)
    assert rec2.kind == name and rec2.artifact_sha256 == rec.artifact_sha256
    m1, s1 = p.predict_with_uncertainty(te)
    m2, s2 = loaded.predict_with_uncertainty(te)
    # Bayesian / sampled predictors redraw with the same seed: equal to float tolerance
    np.testing.assert_allclose(m2, m1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(s2, s1, rtol=1e-4, atol=1e-5)
