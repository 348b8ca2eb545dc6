"""NAS-Bench-Graph specifics: equivalence classes match the benchmark's rows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from archgen.errors import InvalidArchitectureError
from archgen.spaces.nasbench_graph import OPS, SKIP, NASBenchGraphSearchSpace


@pytest.fixture(scope="module")
def space(ws) -> NASBenchGraphSearchSpace:
    return ws.space("nasbench_graph")


def test_canonical_forms_are_exactly_the_table_rows(space) -> None:
    """Every node-input pattern x op assignment maps to one of the 26,206 rows, and every row is reached."""
    hashes = set()
    links_all = list(itertools.product(*(range(k + 1) for k in range(4))))
    for ops in itertools.product(range(len(OPS)), repeat=4):
        if all(o == SKIP for o in ops):
            continue
        for links in links_all:
            hashes.add(space.benchmark_hash(space.make(links, ops)))
    rows = {int(h) for h in space._rows[0]}
    assert hashes == rows
    assert len(rows) == 26_206


def test_parse_errors(space) -> None:
    with pytest.raises(InvalidArchitectureError, match="input must be 0..1") as e:
        space.parse("gcn~0|gin~3|skip~1|gat~3")
    assert e.value.position == 10
    with pytest.raises(InvalidArchitectureError, match="only skip"):
        space.parse("skip~0|skip~0|skip~0|skip~0")
    with pytest.raises(InvalidArchitectureError, match="unknown operation 'gnn'"):
        space.parse("gnn~0|gin~0|gin~0|gin~0")


def test_sample_never_returns_all_skip(space) -> None:
    archs = space.sample(500, np.random.default_rng(0))
    assert all(not all(o == SKIP for o in a.ops) for a in archs)
