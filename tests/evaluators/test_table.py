"""The table evaluator: published values at a fidelity, a simulated cost per fidelity, repeats free."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.errors import UnknownNameError
from archgen.evaluators import BenchmarkEvaluator


def test_values_and_cost_follow_the_fidelity(ws) -> None:
    table = ws.table("nb201")
    space = ws.space("nb201")
    archs = [space.from_index(i) for i in (0, 10, 500)]
    full = BenchmarkEvaluator(table, "cifar10", "test_acc")
    low = BenchmarkEvaluator(table, "cifar10", "test_acc", fidelity=12, cost_per_epoch=2.0, extra_metrics=("params",))
    r_full, r_low = full.evaluate(archs), low.evaluate(archs)
    np.testing.assert_allclose([r.value for r in r_full], table.lookup("cifar10", "test_acc", [0, 10, 500]))
    np.testing.assert_allclose([r.value for r in r_low], table.lookup("cifar10", "test_acc_12ep", [0, 10, 500]))
    assert [r.cost for r in r_full] == [200.0] * 3 and [r.cost for r in r_low] == [24.0] * 3
    assert r_low[0].values["params"] == table.lookup("cifar10", "params", [0])[0]
    assert r_low[0].source == "table:nb201/cifar10/test_acc_12ep@12ep" and r_low[0].fidelity == 12
    assert full.maximize


def test_a_repeat_is_free_unless_asked(ws) -> None:
    space = ws.space("nb201")
    a = space.from_index(3)
    ev = BenchmarkEvaluator(ws.table("nb201"), "cifar10-valid", "val_acc")
    ev.evaluate([a])
    assert ev.evaluate([a])[0].cost == 0 and ev.total_cost == 200 and ev.queries == 2
    paying = BenchmarkEvaluator(ws.table("nb201"), "cifar10-valid", "val_acc", charge_repeats=True)
    paying.evaluate([a, a])
    assert paying.total_cost == 400


def test_unknown_names_and_fidelities_are_listed(ws) -> None:
    table = ws.table("nb201")
    with pytest.raises(UnknownNameError, match="200"):
        BenchmarkEvaluator(table, "cifar10", "test_acc", fidelity=50)
    with pytest.raises(UnknownNameError, match="test_acc"):
        BenchmarkEvaluator(table, "cifar10", "accuracy")
    with pytest.raises(ValueError, match="cost_per_epoch"):
        BenchmarkEvaluator(table, "cifar10", "test_acc", cost_per_epoch=float("nan"))
