"""NB101 specifics: NASLib tuples, pruning, validity limits."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.errors import InvalidArchitectureError
from archgen.spaces.nb101 import MAX_EDGES, NB101SearchSpace


@pytest.fixture(scope="module")
def space(ws) -> NB101SearchSpace:
    return ws.space("nb101")


def test_sample_rows_round_trip_through_naslib_tuple(space) -> None:
    for row in range(0, 500, 50):
        arch = space.from_index(row)
        assert space.from_naslib(space.to_naslib(arch)) == arch
        assert len(arch.ops) == 7


def test_canonical_prunes_and_is_smaller_or_equal(space) -> None:
    for row in range(500):
        arch = space.from_index(row)
        c = space.canonical(arch)
        assert len(c.ops) <= len(arch.ops)
        assert len(c.edges) <= MAX_EDGES


def test_too_many_edges_and_disconnected_output_rejected(space) -> None:
    full = np.triu(np.ones((7, 7), dtype=np.int8), 1)
    with pytest.raises(InvalidArchitectureError, match="more than 9 edges"):
        space.make(full, [0, 4, 4, 4, 4, 4, 1])
    with pytest.raises(InvalidArchitectureError, match="not reachable"):
        space.parse("010/000/000|input,conv3x3-bn-relu,output")
    with pytest.raises(InvalidArchitectureError, match="row 1"):
        space.parse("011/0x1/000|input,conv3x3-bn-relu,output")
