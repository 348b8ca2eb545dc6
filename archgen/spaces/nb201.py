"""NAS-Bench-201 cell search space.

Dong & Yang, "NAS-Bench-201: Extending the Scope of Reproducible Neural
Architecture Search", ICLR 2020.

A cell is a DAG over 4 nodes (0 = input, 3 = output); node ``j`` is the sum of
``op_ij(node_i)`` over ``i < j``. Each of the 6 edges carries one of 5
operations, giving 5**6 = 15,625 cells.

Encoding of :class:`~archgen.arch.Arch` in this space: ``ops`` holds 6 op ids
(positions in :data:`OPS`) on the edges in the order of the arch string,
:data:`EDGES` = (0->1, 0->2, 1->2, 0->3, 1->3, 2->3); ``edges`` is empty.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import torch

from archgen.arch import Arch
from archgen.errors import InvalidArchitectureError, quote
from archgen.rng import init_parameters_
from archgen.spaces.base import FlatEncoding, SearchSpace, register_space
from archgen.spaces.nb201_cell import EDGES, NUM_NODES, OPS
from archgen.spaces.nb201_network import build_network

if TYPE_CHECKING:
    from archgen.context import Workspace

NONE = 0

#: NASLib's edge order (0->1, 0->2, 0->3, 1->2, 1->3, 2->3) and op ids.
NASLIB_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
_TO_NASLIB_POS = [EDGES.index(e) for e in NASLIB_EDGES]  # naslib position k -> our position
_TO_NASLIB_OP = [NASLIB_OPS.index(o) for o in OPS]  # our op id -> naslib id
_FROM_NASLIB_OP = [OPS.index(o) for o in NASLIB_OPS]

#: Nodes of the op-on-node graph: input, one node per edge (in EDGES order), output.
NODE_TYPES: tuple[str, ...] = ("input", "output", *OPS)
_GRAPH_NODES = 2 + len(EDGES)


def _graph_adjacency() -> torch.Tensor:
    """Fixed adjacency of the op-on-node DAG (8 x 8)."""
    adj = torch.zeros(_GRAPH_NODES, _GRAPH_NODES)
    out = _GRAPH_NODES - 1
    for k, (i, j) in enumerate(EDGES):
        if i == 0:
            adj[0, 1 + k] = 1
        for m, (i2, _) in enumerate(EDGES):
            if i2 == j:
                adj[1 + k, 1 + m] = 1
        if j == NUM_NODES - 1:
            adj[1 + k, out] = 1
    return adj


_ADJ = _graph_adjacency()

# Path encoding (White et al., BANANAS, AAAI 2021): one count per sequence of
# non-none ops along an input->output path; lengths 1..3.
_ROUTES: tuple[tuple[int, ...], ...] = (
    (EDGES.index((0, 3)),),
    (EDGES.index((0, 1)), EDGES.index((1, 3))),
    (EDGES.index((0, 2)), EDGES.index((2, 3))),
    (EDGES.index((0, 1)), EDGES.index((1, 2)), EDGES.index((2, 3))),
)
_LIVE_OPS = len(OPS) - 1
_PATH_OFFSET = {1: 0, 2: _LIVE_OPS, 3: _LIVE_OPS + _LIVE_OPS**2}
PATH_DIM = _LIVE_OPS + _LIVE_OPS**2 + _LIVE_OPS**3


@register_space
class NB201SearchSpace(SearchSpace):
    """The NAS-Bench-201 cell space.

    Args:
        data: Workspace whose data gives the official index (:meth:`index` /
            :meth:`from_index`), the row order of the published tables.
    """

    name = "nb201"
    op_names = OPS
    node_types = NODE_TYPES
    edges = EDGES

    def __init__(self, data: Workspace | None = None) -> None:
        super().__init__(data)
        self._canonical_memo: dict[tuple[int, ...], Arch] = {}

    # -- text form ---------------------------------------------------------
    def parse(self, text: str) -> Arch:
        """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.

        Raises:
            InvalidArchitectureError: naming the token and its character offset.
        """
        if not isinstance(text, str):
            raise InvalidArchitectureError(text, f"expected a string, got {type(text).__name__}")
        ops: list[int] = []
        pos = 0
        groups = text.split("+")
        if len(groups) != NUM_NODES - 1:
            raise InvalidArchitectureError(
                text, f"expected {NUM_NODES - 1} node groups separated by '+', found {len(groups)}", None
            )
        for node, group in enumerate(groups, start=1):
            if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
                raise InvalidArchitectureError(text, f"node {node} group {group!r} must be written |op~i|...|", pos)
            tokens = group[1:-1].split("|")
            if len(tokens) != node:
                raise InvalidArchitectureError(
                    text, f"node {node} must have {node} input edge(s), found {len(tokens)} in {group!r}", pos
                )
            tpos = pos + 1
            for src, token in enumerate(tokens):
                op_name, sep, src_text = token.partition("~")
                if not sep:
                    raise InvalidArchitectureError(text, f"token {token!r} is not of the form op~input", tpos)
                if op_name not in OPS:
                    raise InvalidArchitectureError(
                        text, f"unknown operation {quote(op_name)}; valid: {', '.join(OPS)}", tpos
                    )
                if src_text != str(src):
                    raise InvalidArchitectureError(
                        text, f"token {token!r}: edge {src} of node {node} must read ~{src}", tpos + len(op_name) + 1
                    )
                ops.append(OPS.index(op_name))
                tpos += len(token) + 1
            pos += len(group) + 1
        return Arch(self.name, tuple(ops))

    def format(self, arch: Arch) -> str:
        self.validate(arch)
        groups = []
        for j in range(1, NUM_NODES):
            groups.append("|" + "|".join(f"{OPS[arch.ops[EDGES.index((i, j))]]}~{i}" for i in range(j)) + "|")
        return "+".join(groups)

    # -- validity ----------------------------------------------------------
    def validate(self, arch: Arch) -> None:
        if not isinstance(arch, Arch):
            raise InvalidArchitectureError(arch, f"expected an Arch, got {type(arch).__name__}")
        if arch.space != self.name:
            raise InvalidArchitectureError(arch, f"belongs to space {arch.space!r}, not {self.name!r}")
        if len(arch.ops) != len(EDGES):
            raise InvalidArchitectureError(arch, f"needs {len(EDGES)} ops, has {len(arch.ops)}")
        for k, op in enumerate(arch.ops):
            if not 0 <= op < len(OPS):
                raise InvalidArchitectureError(arch, f"op id {op} out of range 0..{len(OPS) - 1}", k)
        if arch.edges:
            raise InvalidArchitectureError(arch, "NB201 cells have a fixed topology; edges must be empty")

    # -- NASLib tuple and official index -----------------------------------------
    def to_naslib(self, arch: Arch) -> tuple[int, ...]:
        """NASLib's tuple: op ids (0 skip, 1 none, 2 conv3x3, 3 conv1x1, 4 avgpool) on (0->1, 0->2, 0->3, 1->2, 1->3, 2->3)."""
        self.validate(arch)
        return tuple(_TO_NASLIB_OP[arch.ops[p]] for p in _TO_NASLIB_POS)

    def from_naslib(self, net: Sequence[int] | str) -> Arch:
        """Inverse of :meth:`to_naslib`; also accepts the tuple's string form ``"(4, 3, 3, 0, 0, 0)"``."""
        text = net
        if isinstance(net, str):
            body = net.strip().strip("()[]")
            try:
                net = [int(t) for t in body.split(",")]
            except ValueError:
                raise InvalidArchitectureError(text, "NASLib tuple must be 6 integers") from None
        if len(net) != len(EDGES) or any(not 0 <= int(v) < len(NASLIB_OPS) for v in net):
            raise InvalidArchitectureError(text, "NASLib tuple must be 6 op ids in 0..4")
        ops = [0] * len(EDGES)
        for k, v in enumerate(net):
            ops[_TO_NASLIB_POS[k]] = _FROM_NASLIB_OP[int(v)]
        return Arch(self.name, tuple(ops))

    @cached_property
    def _index(self) -> tuple[np.ndarray, dict[tuple[int, ...], int]]:
        ops = self._require_data().space_rows(self.name)  # (15625, 6) in index order
        return ops, {tuple(int(v) for v in row): i for i, row in enumerate(ops)}

    def from_index(self, index: int) -> Arch:
        ops, _ = self._index
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(ops):
            raise InvalidArchitectureError(index, f"NB201 index must be an integer in 0..{len(ops) - 1}")
        return Arch(self.name, tuple(int(v) for v in ops[index]))

    def index(self, arch: Arch) -> int:
        self.validate(arch)
        return self._index[1][arch.ops]

    def indices(self, archs: Sequence[Arch]) -> np.ndarray:
        """Official indices of many architectures, shape ``(n,)``."""
        lookup = self._index[1]
        return np.fromiter((lookup[a.ops] for a in archs), dtype=np.int64, count=len(archs))

    # -- equivalence -------------------------------------------------------
    def effective_ops(self, arch: Arch) -> tuple[int, ...]:
        """Ops with every edge that cannot affect the output set to ``none``.

        An edge is dead when its source receives nothing from the input (all
        paths into it pass through ``none``) or its target never reaches the
        output. If no path reaches the output at all, the cell computes zero
        and every edge is dead.
        """
        self.validate(arch)
        ops = arch.ops
        live = [True, False, False, False]  # reachable from the input through non-none edges
        for j in range(1, NUM_NODES):
            live[j] = any(live[i] and ops[EDGES.index((i, j))] != NONE for i in range(j))
        reaches = [False, False, False, True]  # reaches the output through non-none edges
        for i in range(NUM_NODES - 2, -1, -1):
            reaches[i] = any(reaches[j] and ops[EDGES.index((i, j))] != NONE for j in range(i + 1, NUM_NODES))
        return tuple(
            op if (op != NONE and live[i] and reaches[j]) else NONE for op, (i, j) in zip(ops, EDGES, strict=False)
        )

    def canonical(self, arch: Arch) -> Arch:
        """One representative per class of cells computing the same function.

        Two rules, applied in order:

        1. Dead edges (see :meth:`effective_ops`) become ``none``.
        2. Nodes 1 and 2 are interchangeable when there is no edge between
           them (edge 1->2 is ``none``): swapping them relabels the same DAG.
           Of the two labellings the lexicographically smaller op tuple is kept.

        Members of a class compute the same function, up to one caveat: a
        convolution whose input node is all zeros still outputs its
        BatchNorm shift, a learned per-channel constant, which rule 1
        ignores (as NAS-Bench-201's own notion of unreachable edges does).
        Parameter counts can differ within a class (dead edges still hold
        weights). Not merged: cells that differ only by a ``skip_connect``
        detour (e.g. ``0->1`` skip then ``1->3`` conv vs. ``0->3`` conv);
        NATS-Bench's path-based unique string merges those and more, giving
        6,466 classes, where these rules give 8,765.
        """
        hit = self._canonical_memo.get(arch.ops)
        if hit is not None and arch.space == self.name:
            return hit
        ops = self.effective_ops(arch)
        if ops[EDGES.index((1, 2))] == NONE:
            swap = {(0, 1): (0, 2), (0, 2): (0, 1), (1, 3): (2, 3), (2, 3): (1, 3), (1, 2): (1, 2), (0, 3): (0, 3)}
            swapped = tuple(ops[EDGES.index(swap[e])] for e in EDGES)
            ops = min(ops, swapped)
        out = Arch(self.name, ops)
        self._canonical_memo[arch.ops] = out  # at most 15,625 entries
        return out

    def path_string(self, arch: Arch) -> str:
        """NATS-Bench's path-based string of a cell (its ``unique_str`` with zeros considered).

        Each node is written as the sorted sum of its incoming terms: an edge
        ``i -> j`` with op ``o`` contributes ``(node_i)@o``; ``skip_connect``
        contributes ``node_i`` itself; ``none``, or a source written ``#``,
        contributes the zero term ``#``. As in NATS-Bench, only a single ``#``
        is zero: a sum of zero terms (``#+#``) is kept as written. Cells with
        the same string are treated as one architecture by NATS-Bench. This
        merges more than :meth:`canonical` (e.g. a ``skip_connect`` detour
        before a convolution), giving 6,466 classes on NB201, and less in
        places (it keeps dead-edge differences that :meth:`canonical` removes);
        the two together define the strict test set of the predictor benchmark.
        """
        self.validate(arch)
        nodes = ["0"]
        for j in range(1, NUM_NODES):
            terms = []
            for i in range(j):
                op = OPS[arch.ops[EDGES.index((i, j))]]
                src = nodes[i]
                if op == "none" or src == "#":
                    terms.append("#")
                else:
                    terms.append(src if op == "skip_connect" else f"({src})@{op}")
            nodes.append("+".join(sorted(terms)))
        return nodes[-1]

    # -- sampling and local moves -----------------------------------------------
    def sample(self, n: int, rng: np.random.Generator) -> list[Arch]:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        draws = rng.integers(0, len(OPS), size=(n, len(EDGES)))
        return [Arch(self.name, tuple(int(v) for v in row)) for row in draws]

    def neighbors(self, arch: Arch) -> list[Arch]:
        self.validate(arch)
        out = []
        for k in range(len(EDGES)):
            for op in range(len(OPS)):
                if op != arch.ops[k]:
                    out.append(Arch(self.name, (*arch.ops[:k], op, *arch.ops[k + 1 :])))
        return out

    def all_archs(self) -> list[Arch]:
        """Every cell, in lexicographic order of ops (not the official index order)."""
        return [Arch(self.name, ops) for ops in itertools.product(range(len(OPS)), repeat=len(EDGES))]

    # -- encodings ---------------------------------------------------------
    def to_dense(self, arch: Arch) -> tuple[torch.Tensor, torch.Tensor]:
        """8-node op-on-node DAG: input, the 6 edges' ops (in :data:`EDGES` order), output.

        ``none`` edges are kept as nodes of type ``none`` so every cell has the
        same node set; ``adj`` is the same for all cells.
        """
        self.validate(arch)
        x = torch.zeros(_GRAPH_NODES, len(NODE_TYPES))
        x[0, NODE_TYPES.index("input")] = 1
        x[-1, NODE_TYPES.index("output")] = 1
        for k, op in enumerate(arch.ops):
            x[1 + k, 2 + op] = 1
        return _ADJ.clone(), x

    def from_dense(self, adj: torch.Tensor, x: torch.Tensor) -> Arch:
        if tuple(adj.shape) != tuple(_ADJ.shape) or not torch.equal((adj != 0).float(), _ADJ):
            raise InvalidArchitectureError("<dense>", "adjacency is not the NB201 cell's op-on-node DAG")
        if tuple(x.shape) != (_GRAPH_NODES, len(NODE_TYPES)):
            raise InvalidArchitectureError("<dense>", f"x must have shape {(_GRAPH_NODES, len(NODE_TYPES))}")
        types = x.argmax(dim=1).tolist()
        if types[0] != 0 or types[-1] != 1 or any(t < 2 for t in types[1:-1]):
            raise InvalidArchitectureError("<dense>", "node types must be input, 6 operations, output")
        return Arch(self.name, tuple(t - 2 for t in types[1:-1]))

    def dense_mask(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The adjacency is fixed; the 6 operation nodes choose among :data:`OPS`."""
        x_mask = torch.zeros(_GRAPH_NODES, len(NODE_TYPES), dtype=torch.bool)
        x_mask[1:-1, 2:] = True
        return torch.zeros(_GRAPH_NODES, _GRAPH_NODES, dtype=torch.bool), x_mask

    def encode(self, archs: Sequence[Arch], kind: FlatEncoding = "onehot") -> np.ndarray:
        """Flat encodings.

        * ``"onehot"``: 6 edges x 5 ops, shape ``(n, 30)``.
        * ``"path"``: BANANAS path encoding, the number of input->output paths
          carrying each sequence of non-``none`` ops, shape ``(n, 84)``.
        """
        if kind == "onehot":
            out = np.zeros((len(archs), len(EDGES), len(OPS)), dtype=np.float32)
            for r, a in enumerate(archs):
                self.validate(a)
                out[r, np.arange(len(EDGES)), a.ops] = 1
            return out.reshape(len(archs), -1)
        if kind == "path":
            out = np.zeros((len(archs), PATH_DIM), dtype=np.float32)
            for r, a in enumerate(archs):
                self.validate(a)
                for route in _ROUTES:
                    seq = [a.ops[k] for k in route]
                    if NONE in seq:
                        continue
                    code = 0
                    for op in seq:
                        code = code * _LIVE_OPS + (op - 1)
                    out[r, _PATH_OFFSET[len(seq)] + code] += 1
            return out
        raise ValueError(f"unknown encoding {kind!r}; valid: onehot, path")

    # -- networks ----------------------------------------------------------
    def build_network(  # type: ignore[override]
        self, arch: Arch, num_classes: int, C: int = 16, N: int = 5, generator: torch.Generator | None = None
    ) -> torch.nn.Module:
        """The NB201 macro skeleton with this cell; see :func:`archgen.spaces.nb201_network.build_network`.

        ``generator``: initialise the weights from it (PyTorch's default schemes)
        instead of torch's global generator.
        """
        self.validate(arch)
        net = build_network(arch.ops, num_classes, C=C, N=N)
        return init_parameters_(net, generator) if generator is not None else net
