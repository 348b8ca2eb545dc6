"""Parallel evaluation: threads and a local Ray cluster give the history of the one-by-one loop."""

from __future__ import annotations

import pytest

from archgen.evaluators import BenchmarkEvaluator
from archgen.search import SearchInputError, Workers, get_strategy, run_search


def _search(ws, workers: Workers | None) -> tuple[list, float, int]:
    table = ws.table("nb201")
    ev = BenchmarkEvaluator(table, "cifar10", "test_acc")
    sp = table.search_space
    cands = [sp.from_index(i) for i in range(table.num_rows)]
    h = run_search(sp, get_strategy("re", population=8, sample_size=4), ev, budget=24, batch_size=6, seed=4,
                   candidates=cands, workers=workers)  # fmt: skip
    return [(e.architecture, e.value, e.cost) for e in h.evaluations], ev.total_cost, ev.queries


def test_threads_equal_the_serial_loop(ws) -> None:
    serial = _search(ws, None)
    with Workers(3) as w:
        assert w.backend == "threads"
        assert _search(ws, w) == serial
    assert serial[1] == 24 * 200 and serial[2] == 24  # each evaluation charged its 200 epochs once


def test_ray_on_a_local_cluster_equals_local_workers(ws, monkeypatch) -> None:
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with Workers(2) as w:
        local = _search(ws, w)
    with Workers(ray_address="local", num_cpus=2) as w:
        assert w.backend == "ray"
        assert _search(ws, w) == local


def test_worker_errors_name_the_problem() -> None:
    with pytest.raises(SearchInputError, match="workers"):
        Workers(0)
    with pytest.raises(SearchInputError, match="cannot reach the Ray cluster"):
        Workers(ray_address="ray://127.0.0.1:1")
