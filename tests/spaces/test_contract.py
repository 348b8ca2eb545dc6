"""Contract tests run over every registered search space."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archgen.arch import Arch
from archgen.errors import InvalidArchitectureError, UnknownNameError
from archgen.spaces import get_space, list_spaces, register_space, space_class

SPACES = list_spaces()

#: Per space, pairs of strings that compute the same function (known by hand).
EQUIVALENT = {
    "nb201": [
        # edge 1->3 is dead: node 1 receives only `none`
        ("|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|",
         "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"),
        # nodes 1 and 2 swapped (no edge between them)
        ("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|nor_conv_1x1~1|skip_connect~2|",
         "|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|nor_conv_1x1~2|"),
        # output unreachable: the whole cell is zero
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|",
         "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
    ],
    "nasbench_graph": [
        # two nodes both fed by the input: their order does not matter
        ("gcn~0|gat~0|sage~1|fc~2", "gat~0|gcn~0|fc~1|sage~2"),
        ("gcn~0|gin~0|gin~0|gin~0", "gin~0|gin~0|gcn~0|gin~0"),
    ],
    "nb101": [
        # interior nodes 1 and 2 relabelled
        ("0110/0001/0001/0000|input,conv3x3-bn-relu,maxpool3x3,output",
         "0110/0001/0001/0000|input,maxpool3x3,conv3x3-bn-relu,output"),
        # node 2 is dangling (no path to the output) and is pruned
        ("0110/0001/0000/0000|input,conv3x3-bn-relu,maxpool3x3,output",
         "010/001/000|input,conv3x3-bn-relu,output"),
    ],
}  # fmt: skip

MALFORMED = ["", "garbage", "|||", "a~0|b~1", "0/1|input"]


@pytest.fixture(params=SPACES)
def space(request: pytest.FixtureRequest, ws):
    return ws.space(request.param)


def test_every_space_has_equivalence_examples() -> None:
    assert set(EQUIVALENT) == set(SPACES)


def test_registry_rejects_duplicates_and_lists_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_space(space_class("nb201"))
    with pytest.raises(UnknownNameError) as e:
        get_space("nb999")
    assert all(name in str(e.value) for name in SPACES)


def test_sampling_is_reproducible_and_valid(space) -> None:
    a = space.sample(20, np.random.default_rng(7))
    b = space.sample(20, np.random.default_rng(7))
    c = space.sample(20, np.random.default_rng(8))
    assert a == b
    assert a != c
    assert all(space.is_valid(x) for x in a)
    assert all(isinstance(x, Arch) and x.space == space.name for x in a)
    d = space.sample_distinct(20, np.random.default_rng(7))
    assert len(set(d)) == len(d) <= 20 and d == list(dict.fromkeys(space.sample(40, np.random.default_rng(7))))[:20]


def test_parse_format_round_trip(space) -> None:
    for arch in space.sample(50, np.random.default_rng(0)):
        text = space.format(arch)
        assert space.parse(text) == arch
        assert space.coerce(text) == arch
        assert space.format(space.parse(text)) == text


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_strings_raise_typed_error(space, text: str) -> None:
    with pytest.raises(InvalidArchitectureError) as e:
        space.parse(text)
    assert e.value.reason
    with pytest.raises(ValueError):  # also a ValueError, for generic callers
        space.parse(text)


def test_non_string_input_raises_typed_error(space) -> None:
    for bad in (None, 3.5, ["x"], {"a": 1}):
        with pytest.raises(InvalidArchitectureError):
            space.coerce(bad)


def test_foreign_arch_is_rejected(space) -> None:
    other = next(n for n in SPACES if n != space.name)
    arch = get_space(other).sample(1, np.random.default_rng(0))[0]
    assert not space.is_valid(arch)
    with pytest.raises(InvalidArchitectureError):
        space.coerce(arch)


def test_dense_and_graph_round_trip(space) -> None:
    for arch in space.sample(30, np.random.default_rng(1)):
        adj, x = space.to_dense(arch)
        assert adj.shape[0] == adj.shape[1] == x.shape[0]
        assert x.shape[1] == len(space.node_types)
        assert torch.all(torch.triu(adj, diagonal=1) == adj), "graph must be a DAG in node order"
        assert space.from_dense(adj, x) == arch
        data = space.to_graph(arch)
        assert data.edge_index.shape[0] == 2
        assert data.x.shape[1] == len(space.node_types)
        assert space.from_graph(data) == arch


def test_flat_encoding_shape_and_determinism(space) -> None:
    archs = space.sample(25, np.random.default_rng(2))
    enc = space.encode(archs)
    assert enc.shape[0] == 25 and enc.ndim == 2
    assert np.isfinite(enc).all()
    np.testing.assert_array_equal(enc, space.encode(archs))
    distinct = {space.format(a) for a in archs}
    assert len({row.tobytes() for row in enc}) == len(distinct), "one-hot must separate distinct architectures"
    with pytest.raises(ValueError):
        space.encode(archs, kind="no-such-encoding")  # type: ignore[arg-type]


def test_mutation_gives_valid_different_function(space) -> None:
    rng = np.random.default_rng(3)
    for arch in space.sample(30, np.random.default_rng(4)):
        before = space.format(arch)
        child = space.mutate(arch, rng)
        assert space.format(arch) == before, "mutate must not change its input"
        assert space.is_valid(child)
        assert child != arch
        assert space.canonical(child) != space.canonical(arch)


def test_neighbors_are_valid_and_one_step(space) -> None:
    arch = space.sample(1, np.random.default_rng(5))[0]
    neigh = space.neighbors(arch)
    assert neigh and all(space.is_valid(b) for b in neigh)
    assert arch not in neigh
    assert len(set(neigh)) == len(neigh)


def test_canonical_is_idempotent(space) -> None:
    for arch in space.sample(60, np.random.default_rng(6)):
        c = space.canonical(arch)
        assert space.is_valid(c)
        assert space.canonical(c) == c


def test_known_equivalent_cells_share_canonical_form(space) -> None:
    for left, right in EQUIVALENT[space.name]:
        a, b = space.parse(left), space.parse(right)
        assert a != b
        assert space.canonical(a) == space.canonical(b), (left, right)


def test_index_round_trip(space) -> None:
    for row in (0, 1, 17, 499):
        arch = space.from_index(row)
        assert space.index(arch) == row
        assert space.coerce(str(row)) == arch
    with pytest.raises(InvalidArchitectureError):
        space.from_index(-1)
    with pytest.raises(InvalidArchitectureError):
        space.from_index(10**9)


def test_dense_mask_marks_exactly_what_varies(space) -> None:
    """Entries outside the mask are equal for every architecture; inside, some vary across a sample."""
    adj_mask, x_mask = space.dense_mask()
    adj, x = space.to_dense_batch(space.sample(300, np.random.default_rng(0)))
    assert adj_mask.dtype == x_mask.dtype == torch.bool
    assert adj.shape[1:] == adj_mask.shape and x.shape[1:] == x_mask.shape
    for dense, mask in ((adj, adj_mask), (x, x_mask)):
        varies = (dense != dense[0]).any(dim=0)
        assert not (varies & ~mask).any(), "an entry outside the mask varies"
    assert ((x != x[0]).any(dim=0) & x_mask).any(), "no masked node-type entry varies"
    empty_adj, empty_x = space.to_dense_batch([])
    assert empty_adj.shape == (0, *adj_mask.shape) and empty_x.shape == (0, *x_mask.shape)


def test_indices_agree_with_index_and_rows_or_missing_marks_absent(space) -> None:
    archs = [space.from_index(i) for i in (0, 1, 2)]
    assert space.indices(archs).tolist() == [space.index(a) for a in archs] == [0, 1, 2]
    outside = [a for a in space.sample(200, np.random.default_rng(9)) if not _has_row(space, a)][:1]
    assert space.rows_or_missing(archs + outside).tolist() == [0, 1, 2] + [-1] * len(outside)


def _has_row(space, arch) -> bool:
    try:
        space.index(arch)
        return True
    except (InvalidArchitectureError, KeyError):
        return False


def test_build_network_or_a_typed_refusal(space) -> None:
    from archgen.errors import UnsupportedOperationError
    from archgen.rng import torch_generator

    arch = space.sample(1, np.random.default_rng(0))[0]
    try:
        a = (
            space.build_network(arch, 10, generator=torch_generator(0))
            if space.name == "nb201"
            else space.build_network(arch, 10)
        )
    except UnsupportedOperationError as e:
        assert space.name in str(e)
        return
    b = space.build_network(arch, 10, generator=torch_generator(0))
    out = a(torch.zeros(2, 3, 32, 32))
    logits = out[-1] if isinstance(out, tuple) else out
    assert logits.shape == (2, 10)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):  # same generator seed, same weights
        assert torch.equal(pa, pb)


def test_read_dense_rebuilds_the_derived_entries(space) -> None:
    """Derived entries are free entries; reading ignores them and gives back the architecture."""
    adj_mask, _ = space.dense_mask()
    derived = space.dense_derived()
    assert derived.dtype == torch.bool and derived.shape == adj_mask.shape
    assert not (derived & ~adj_mask).any(), "a derived entry outside the free mask"
    for arch in space.sample(50, np.random.default_rng(3)):
        adj, x = space.to_dense(arch)
        assert space.read_dense(adj, x) == arch
        assert space.read_dense(adj * ~derived, x) == arch
        if derived.any():
            with pytest.raises(InvalidArchitectureError):
                space.from_dense(adj * ~derived, x)
