"""The predictor contract, run over every registered predictor.

Each predictor is built with small settings (few members, epochs, a tiny
network for the proxies) so that the suite runs in CI; the benchmarks measure
the full-size ones.
"""

from __future__ import annotations

import numpy as np
import pytest

from archgen.errors import NotFittedError, PredictorInputError, UnknownNameError, UnsupportedSpaceError
from archgen.predictors import get_predictor, list_predictors, predictor_class
from archgen.predictors.store import ModelRecord, ModelStore

TINY_NET = {"batch_size": 8, "C": 4, "N": 1}
#: Fast settings per registered predictor: a new predictor must add itself here.
FAST = {
    "lgbm": {"task": "cifar10", "n_estimators": 30, "n_bags": 3},
    "gp": {"task": "cifar10"},
    "gnn": {"task": "cifar10", "n_members": 2, "epochs": 30},
    "stack": {"task": "cifar10", "members": ["lgbm", "zc_learned"]},
    "zc": {"task": "cifar10", "proxy": "synflow", **TINY_NET},
    "zc_vote": {"task": "cifar10", "source": "table"},
    "zc_learned": {"task": "cifar10", "source": "table"},
    "parzc": {"task": "cifar10", "epochs": 20, "mc_samples": 4, **TINY_NET},
}
NAMES = list_predictors()


def make(name: str, **extra: object):  # noqa: ANN201
    return get_predictor(name, **{**FAST[name], **extra})


def fitted(name: str, split):  # noqa: ANN001, ANN201
    tr, ytr, _, _ = split
    return make(name).fit(tr, ytr)


def test_every_predictor_has_fast_settings() -> None:
    assert sorted(FAST) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_declares_name_paper_and_capabilities(name: str) -> None:
    cls = predictor_class(name)
    assert cls.name == name
    assert cls.paper, f"{name} must cite its paper"
    assert cls.capabilities.min_train >= 0


@pytest.mark.parametrize("name", NAMES)
def test_params_round_trip(name: str) -> None:
    p = make(name)
    again = get_predictor(name, **p.get_params())
    assert again.get_params() == p.get_params()


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_predicts_shape(name: str, split) -> None:  # noqa: ANN001
    tr, ytr, te, _ = split
    p = make(name)
    assert p.fit(tr, ytr) is p
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
def test_learned_predictors_beat_chance(name: str, split) -> None:  # noqa: ANN001
    """On real cells every predictor ranks better than chance (40 training cells, 30 test)."""
    from archgen.predictors.metrics import kendall_tau

    tr, ytr, te, yte = split
    p = make(name).fit(tr, ytr)
    assert kendall_tau(yte, p.predict(te)) > 0.2


@pytest.mark.parametrize("name", [n for n in NAMES if predictor_class(n).capabilities.requires_fit])
def test_unfitted_predict_raises(name: str, split) -> None:  # noqa: ANN001
    with pytest.raises(NotFittedError):
        make(name).predict(split[2])


@pytest.mark.parametrize("name", NAMES)
def test_bad_training_input_is_typed(name: str, split) -> None:  # noqa: ANN001
    tr, ytr, _, _ = split
    p = make(name)
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
def test_other_space_is_refused(name: str, split) -> None:  # noqa: ANN001
    from archgen.spaces import get_space

    nb101 = get_space("nb101")
    other = nb101.sample(2, np.random.default_rng(0))
    p = fitted(name, split)
    with pytest.raises(UnsupportedSpaceError):
        p.predict(other)


def test_unknown_predictor_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match="lgbm"):
        get_predictor("xgboost")
    with pytest.raises(PredictorInputError):
        get_predictor("lgbm", n_trees=3)


@pytest.mark.parametrize("name", NAMES)
def test_store_round_trip_gives_same_predictions(name: str, split, tmp_path) -> None:  # noqa: ANN001
    tr, ytr, te, _ = split
    p = fitted(name, split)
    store = ModelStore(tmp_path)
    rec = ModelRecord(
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
    loaded, rec2 = store.load(rec.id, space="nb201")
    assert rec2.kind == name and rec2.artifact_sha256 == rec.artifact_sha256
    m1, s1 = p.predict_with_uncertainty(te)
    m2, s2 = loaded.predict_with_uncertainty(te)
    # Bayesian / sampled predictors redraw with the same seed: equal to float tolerance
    np.testing.assert_allclose(m2, m1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(s2, s1, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_predictions(name: str, split) -> None:  # noqa: ANN001
    te = split[2]
    np.testing.assert_allclose(fitted(name, split).predict(te), fitted(name, split).predict(te), rtol=1e-5, atol=1e-5)
