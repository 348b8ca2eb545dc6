"""NAS-Bench-101 cell space (used here for its published 500-cell sample).

Ying et al., "NAS-Bench-101: Towards Reproducible Neural Architecture
Search", ICML 2019. A cell is a DAG of at most 7 nodes (input, up to 5
operations, output) and at most 9 edges, given by an upper-triangular
adjacency matrix; interior nodes are ``conv3x3-bn-relu``, ``conv1x1-bn-relu``
or ``maxpool3x3``. Nodes not on an input->output path are pruned before the
cell is built (as NAS-Bench-101 does), so the raw matrix may hold more edges.

Encoding of :class:`~archgen.arch.Arch` in this space: ``ops`` holds one op id
per node (positions in :data:`OPS`, NASLib's numbering: input, output,
maxpool3x3, conv1x1, conv3x3), first the input and last the output;
``edges`` holds the sorted ``(i, j)`` pairs with ``i < j``.

String form: adjacency rows as bits joined by ``/``, ``|``, op names joined by
``,`` (e.g. ``0110/0001/0001/0000|input,conv3x3-bn-relu,maxpool3x3,output``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from archgen.arch import Arch
from archgen.errors import InvalidArchitectureError, quote
from archgen.spaces.base import FlatEncoding, SearchSpace, register_space

if TYPE_CHECKING:
    from archgen.context import Workspace

OPS: tuple[str, ...] = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
INPUT, OUTPUT = 0, 1
INTERIOR = (2, 3, 4)
MAX_NODES = 7
MAX_EDGES = 9
NODE_TYPES = OPS


def _matrix(arch: Arch) -> np.ndarray:
    n = len(arch.ops)
    adj = np.zeros((n, n), dtype=np.int8)
    for i, j in arch.edges:
        adj[i, j] = 1
    return adj


def _prune(adj: np.ndarray) -> list[int]:
    """Nodes on some input->output path (the input is 0, the output n-1)."""
    n = len(adj)
    fwd = {0}
    for j in range(n):
        if j in fwd:
            fwd.update(k for k in range(j + 1, n) if adj[j, k])
    bwd = {n - 1}
    for j in range(n - 1, -1, -1):
        if j in bwd:
            bwd.update(i for i in range(j) if adj[i, j])
    return sorted(fwd & bwd)


@register_space
class NB101SearchSpace(SearchSpace):
    """The NAS-Bench-101 cell space.

    Args:
        data: Workspace whose data gives the rows of the 500-cell sample.
    """

    name = "nb101"
    op_names = OPS
    node_types = NODE_TYPES

    def __init__(self, data: Workspace | None = None) -> None:
        super().__init__(data)

    def make(self, adj: np.ndarray | Sequence[Sequence[int]], ops: Sequence[int]) -> Arch:
        """Build an ``Arch`` from an adjacency matrix and op ids (validated)."""
        adj = np.asarray(adj)
        edges = tuple((int(i), int(j)) for i, j in zip(*np.nonzero(adj), strict=False))
        arch = Arch(self.name, tuple(int(o) for o in ops), tuple(sorted(edges)))
        self.validate(arch)
        return arch

    # -- text form ---------------------------------------------------------
    def parse(self, text: str) -> Arch:
        if not isinstance(text, str):
            raise InvalidArchitectureError(text, f"expected a string, got {type(text).__name__}")
        matrix_text, sep, ops_text = text.partition("|")
        if not sep:
            raise InvalidArchitectureError(text, "expected '<adjacency rows>|<ops>'")
        rows = matrix_text.split("/")
        n = len(rows)
        if not 2 <= n <= MAX_NODES:
            raise InvalidArchitectureError(text, f"a cell has 2..{MAX_NODES} nodes, found {n} rows")
        pos = 0
        for r, row in enumerate(rows):
            if len(row) != n or set(row) - {"0", "1"}:
                raise InvalidArchitectureError(text, f"row {r} {row!r} must be {n} characters 0/1", pos)
            pos += n + 1
        names = ops_text.split(",")
        if len(names) != n:
            raise InvalidArchitectureError(text, f"expected {n} ops, found {len(names)}", pos)
        ops = []
        for name in names:
            if name not in OPS:
                raise InvalidArchitectureError(text, f"unknown operation {quote(name)}; valid: {', '.join(OPS)}", pos)
            ops.append(OPS.index(name))
            pos += len(name) + 1
        adj = np.array([[int(c) for c in row] for row in rows], dtype=np.int8)
        try:
            return self.make(adj, ops)
        except InvalidArchitectureError as e:
            raise InvalidArchitectureError(text, e.reason, e.position) from None

    def format(self, arch: Arch) -> str:
        self.validate(arch)
        adj = _matrix(arch)
        return "/".join("".join(str(int(v)) for v in row) for row in adj) + "|" + ",".join(OPS[o] for o in arch.ops)

    def from_naslib(self, key: Sequence[int] | str) -> Arch:
        """From NASLib's tuple: the flattened n x n matrix followed by n op ids."""
        text = key
        if isinstance(key, str):
            try:
                key = [int(t) for t in key.strip().strip("()[]").split(",")]
            except ValueError:
                raise InvalidArchitectureError(text, "NASLib tuple must be integers") from None
        n = round((-1 + np.sqrt(1 + 4 * len(key))) / 2)
        if n * n + n != len(key):
            raise InvalidArchitectureError(text, "NASLib tuple length must be n*n + n")
        return self.make(np.array(key[: n * n]).reshape(n, n), key[n * n :])

    def to_naslib(self, arch: Arch) -> tuple[int, ...]:
        self.validate(arch)
        return (*(int(v) for v in _matrix(arch).flatten()), *arch.ops)

    # -- validity ----------------------------------------------------------
    def validate(self, arch: Arch) -> None:
        if not isinstance(arch, Arch):
            raise InvalidArchitectureError(arch, f"expected an Arch, got {type(arch).__name__}")
        if arch.space != self.name:
            raise InvalidArchitectureError(arch, f"belongs to space {arch.space!r}, not {self.name!r}")
        n = len(arch.ops)
        if not 2 <= n <= MAX_NODES:
            raise InvalidArchitectureError(arch, f"a cell has 2..{MAX_NODES} nodes, has {n}")
        if arch.ops[0] != INPUT or arch.ops[-1] != OUTPUT:
            raise InvalidArchitectureError(arch, "the first node must be the input and the last the output")
        for k, op in enumerate(arch.ops[1:-1], start=1):
            if op not in INTERIOR:
                raise InvalidArchitectureError(
                    arch, f"node {k} must be one of {', '.join(OPS[o] for o in INTERIOR)}", k
                )
        for i, j in arch.edges:
            if not 0 <= i < j < n:
                raise InvalidArchitectureError(arch, f"edge {(i, j)} is not forward within {n} nodes")
        if len(set(arch.edges)) != len(arch.edges) or list(arch.edges) != sorted(arch.edges):
            raise InvalidArchitectureError(arch, "edges must be sorted and distinct")
        adj = _matrix(arch)
        keep = _prune(adj)
        if 0 not in keep:
            raise InvalidArchitectureError(arch, "the output is not reachable from the input")
        if adj[np.ix_(keep, keep)].sum() > MAX_EDGES:
            raise InvalidArchitectureError(arch, f"more than {MAX_EDGES} edges on input->output paths")

    # -- equivalence -------------------------------------------------------
    def canonical(self, arch: Arch) -> Arch:
        """Pruned cell with the smallest labelling among topological orders.

        Nodes off every input->output path are dropped; among the orderings
        of the interior nodes that keep the matrix upper-triangular, the one
        with the lexicographically smallest (ops, matrix) is kept. Cells that
        are graph-isomorphic (same labelled DAG) share the result.
        """
        self.validate(arch)
        adj = _matrix(arch)
        keep = _prune(adj)
        adj = adj[np.ix_(keep, keep)]
        ops = [arch.ops[k] for k in keep]
        n = len(keep)
        best: tuple | None = None
        for perm in itertools.permutations(range(1, n - 1)):
            order = (0, *perm, n - 1)
            sub = adj[np.ix_(order, order)]
            if np.tril(sub).any():
                continue
            key = (tuple(ops[k] for k in order), tuple(sub.flatten().tolist()))
            if best is None or key < best:
                best = key
        assert best is not None
        return self.make(np.array(best[1]).reshape(n, n), best[0])

    # -- rows of the published sample ------------------------------------------------
    def _rows(self) -> dict[Arch, int]:
        if not hasattr(self, "_row_map"):
            self._row_map: dict[Arch, int] = {}
            for r, a in enumerate(self._sample()):
                self._row_map.setdefault(a, r)
        return self._row_map

    def _sample(self) -> list[Arch]:
        rows: list[Arch] = self._require_data().space_rows(self.name)
        return rows

    def from_index(self, index: int) -> Arch:
        archs = self._sample()
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(archs):
            raise InvalidArchitectureError(index, f"NB101 sample row must be an integer in 0..{len(archs) - 1}")
        return archs[index]

    def index(self, arch: Arch) -> int:
        self.validate(arch)
        try:
            return self._rows()[arch]
        except KeyError:
            raise InvalidArchitectureError(self.format(arch), "not in the published 500-cell NB101 sample") from None

    def indices(self, archs: Sequence[Arch]) -> np.ndarray:
        return np.array([self.index(a) for a in archs], dtype=np.int64)

    # -- sampling and local moves -----------------------------------------------
    def sample(self, n: int, rng: np.random.Generator) -> list[Arch]:
        """Uniform random 7-node matrices and ops, kept when valid (NAS-Bench-101's sampler)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        out: list[Arch] = []
        iu = np.triu_indices(MAX_NODES, 1)
        while len(out) < n:
            adj = np.zeros((MAX_NODES, MAX_NODES), dtype=np.int8)
            adj[iu] = rng.integers(0, 2, size=len(iu[0]))
            ops = [INPUT, *(int(v) for v in rng.choice(INTERIOR, size=MAX_NODES - 2)), OUTPUT]
            try:
                out.append(self.make(adj, ops))
            except InvalidArchitectureError:
                continue
        return out

    def neighbors(self, arch: Arch) -> list[Arch]:
        """Valid cells one interior op change or one edge flip away."""
        self.validate(arch)
        adj, out = _matrix(arch), []
        for k in range(1, len(arch.ops) - 1):
            for op in INTERIOR:
                if op != arch.ops[k]:
                    out.append(self.make(adj, (*arch.ops[:k], op, *arch.ops[k + 1 :])))
        for i, j in itertools.combinations(range(len(arch.ops)), 2):
            flipped = adj.copy()
            flipped[i, j] ^= 1
            try:
                out.append(self.make(flipped, arch.ops))
            except InvalidArchitectureError:
                continue
        return out

    # -- encodings ---------------------------------------------------------
    def to_dense(self, arch: Arch) -> tuple[torch.Tensor, torch.Tensor]:
        """The cell itself (ops on nodes), padded to 7 nodes: padding rows of ``x`` are zero."""
        self.validate(arch)
        n = len(arch.ops)
        adj, x = torch.zeros(MAX_NODES, MAX_NODES), torch.zeros(MAX_NODES, len(NODE_TYPES))
        adj[:n, :n] = torch.from_numpy(_matrix(arch)).float()
        x[torch.arange(n), torch.tensor(arch.ops)] = 1
        return adj, x

    def from_dense(self, adj: torch.Tensor, x: torch.Tensor) -> Arch:
        if tuple(adj.shape) != (MAX_NODES, MAX_NODES) or tuple(x.shape) != (MAX_NODES, len(NODE_TYPES)):
            raise InvalidArchitectureError(
                "<dense>", f"expected adj {(MAX_NODES, MAX_NODES)} and x {(MAX_NODES, len(NODE_TYPES))}"
            )
        n = int((x.sum(dim=1) > 0).sum())
        if (x[n:] != 0).any() or (adj[n:] != 0).any() or (adj[:, n:] != 0).any():
            raise InvalidArchitectureError("<dense>", "padding rows must be empty")
        return self.make((adj[:n, :n] != 0).numpy().astype(np.int8), x[:n].argmax(dim=1).tolist())

    def dense_mask(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Edges above the diagonal are free; node 0 is the input, the others an interior op, the output or padding."""
        adj_mask = torch.ones(MAX_NODES, MAX_NODES, dtype=torch.bool).triu(1)
        x_mask = torch.zeros(MAX_NODES, len(NODE_TYPES), dtype=torch.bool)
        x_mask[1:, OUTPUT:] = True
        return adj_mask, x_mask

    def to_graph(self, arch: Arch):
        """PyG ``Data`` of the unpadded cell (``num_nodes`` = the cell's node count)."""
        from torch_geometric.data import Data  # lazy: torch_geometric takes 1.5-5 s; only graph encodings need it

        adj, x = self.to_dense(arch)
        n = len(arch.ops)
        return Data(x=x[:n], edge_index=adj[:n, :n].nonzero().t().contiguous(), num_nodes=n)

    def from_graph(self, data) -> Arch:
        n = int(data.num_nodes)
        adj, x = torch.zeros(MAX_NODES, MAX_NODES), torch.zeros(MAX_NODES, len(NODE_TYPES))
        adj[data.edge_index[0], data.edge_index[1]] = 1
        x[:n] = data.x
        return self.from_dense(adj, x)

    def encode(self, archs: Sequence[Arch], kind: FlatEncoding = "onehot") -> np.ndarray:
        """``"onehot"``: the 21 upper-triangle bits of the 7x7 matrix and one-hot ops of the 5 interior nodes, shape ``(n, 36)``.

        Cells with fewer than 7 nodes are padded before the output node.
        """
        if kind != "onehot":
            raise ValueError(f"encoding {kind!r} is not available for {self.name}; valid: onehot")
        iu = np.triu_indices(MAX_NODES, 1)
        out = np.zeros((len(archs), len(iu[0]) + (MAX_NODES - 2) * len(INTERIOR)), dtype=np.float32)
        for r, a in enumerate(archs):
            self.validate(a)
            n = len(a.ops)
            pos = [*range(n - 1), MAX_NODES - 1]  # output goes to slot 6
            adj = np.zeros((MAX_NODES, MAX_NODES), dtype=np.float32)
            for i, j in a.edges:
                adj[pos[i], pos[j]] = 1
            out[r, : len(iu[0])] = adj[iu]
            for k, op in enumerate(a.ops[1:-1]):
                out[r, len(iu[0]) + k * len(INTERIOR) + INTERIOR.index(op)] = 1
        return out
