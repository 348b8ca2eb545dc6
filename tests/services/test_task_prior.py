"""The task prior on real sources: CIFAR-10 treated as a task without its table (its own columns never serve),
ranked by CIFAR-100's and ImageNet16-120's published accuracies and proxies computed on its images."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

from archgen.errors import UnknownNameError
from archgen.services import task_prior as service
from archgen.services.task_prior import task_prior

REFERENCE = 12  # fewer reference cells than the service's 32: the proxies take about 0.7 s a cell here


@pytest.fixture(autouse=True)
def _small_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "REFERENCE_CELLS", REFERENCE)


@pytest.fixture(scope="module")
def cells(ws):
    sp = ws.space("nb201")
    archs = list(dict.fromkeys(sp.sample(60, np.random.default_rng(11))))[:16]
    table = ws.table("nb201")
    y = np.asarray(table.column("cifar10", "test_acc"), dtype=float)[sp.rows_or_missing(archs)]
    return archs, y


def test_the_prior_reads_no_label_of_its_task_and_ranks_by_the_sources(ws, cells) -> None:
    archs, y = cells
    prior = task_prior(ws, "cifar10")
    names = prior.model.names
    assert not any(n.startswith(("table:cifar10/", "table:cifar10-valid/")) for n in names)
    assert "table:cifar100/test_acc" in names and "zc:synflow" in names and prior.supernet_id is None
    assert prior.uses_labels and all(len(s.reference) > REFERENCE // 2 for s in prior.model.sources[-4:])
    pct, std = prior.model.percentile(prior.values(archs))
    assert np.all((pct > 0) & (pct < 100) & (std > 0))
    assert kendalltau(pct, y)[0] > 0.5  # other image sets' accuracies transfer (tau .84-.88 over the space)


def test_evaluations_that_agree_with_the_sources_raise_their_weights(ws, cells) -> None:
    """The sources rank CIFAR-10 far better (tau about .87 here) than the prior's assumed correlation (.6): after
    the evaluations every weight is up and the ranking holds (the direction of each weight's move is tested on
    controlled sources in tests/transfer/test_prior.py)."""
    archs, y = cells
    prior = task_prior(ws, "cifar10")
    vals = prior.values(archs)
    before = prior.model.weights
    prior.model.fit(vals, y)
    after = prior.model.weights
    assert prior.model.n_evaluations_ == len(y) and all(after[k] > before[k] for k in before)
    mean, _ = prior.model.predict(vals)
    assert kendalltau(mean, y)[0] > 0.6


def test_a_task_without_images_is_refused(ws) -> None:
    with pytest.raises(UnknownNameError):
        task_prior(ws, "cifar100")
