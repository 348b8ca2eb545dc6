"""NAS-Bench-Graph search space (graph neural network architectures).

Qin et al., "NAS-Bench-Graph: Benchmarking Graph Neural Architecture Search",
NeurIPS 2022 Datasets and Benchmarks. Tables ship in the PyPI package
``nas-bench-graph``.

A cell has 4 computing nodes; node ``k`` (1..4) applies one GNN operation to
one input, the graph input (0) or an earlier node (1..k-1); the cell's output
combines the nodes no other node consumes. ``skip`` is the identity.

Encoding of :class:`~archgen.arch.Arch` in this space: ``ops`` holds 4 op ids
(positions in :data:`OPS`); ``edges`` holds ``(input, k)`` for k = 1..4.
String form: ``gcn~0|gin~1|skip~1|gat~3`` (node k's op and its input).

Equivalence (:meth:`NASBenchGraphSearchSpace.canonical`) is the benchmark's own:
the installed package's ``valid_hash`` (node reordering of isomorphic link
patterns, sorting of interchangeable siblings and relocation of ``skip``
nodes), so that every class maps to exactly one of the 26,206 table rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import torch
from nas_bench_graph import Arch as _NBGArch

from archgen.arch import Arch
from archgen.errors import InvalidArchitectureError, quote
from archgen.spaces.base import FlatEncoding, SearchSpace, register_space

if TYPE_CHECKING:
    from archgen.context import Workspace

#: Operation order of the benchmark's hash (``nas_bench_graph.gnn_list``).
OPS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
SKIP = OPS.index("skip")
NUM_NODES = 4
#: The 9 link patterns the benchmark keeps after removing isomorphic node orders.
LINK_PATTERNS: tuple[tuple[int, ...], ...] = (
    (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 1, 3),
    (0, 1, 1, 1), (0, 1, 1, 2), (0, 1, 2, 2), (0, 1, 2, 3),
)  # fmt: skip
NODE_TYPES: tuple[str, ...] = ("input", "output", *OPS)
_HASH_BASE = len(OPS) + 1


def decode_hash(h: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Split a benchmark hash into (link pattern, op ids)."""
    ops = []
    for _ in range(NUM_NODES):
        h, d = divmod(int(h), _HASH_BASE)
        ops.append(d)
    if not 0 <= h < len(LINK_PATTERNS) or any(d >= len(OPS) for d in ops):
        raise InvalidArchitectureError(h, "not a NAS-Bench-Graph hash")
    return LINK_PATTERNS[h], tuple(reversed(ops))


@register_space
class NASBenchGraphSearchSpace(SearchSpace):
    """The NAS-Bench-Graph space: 9 link patterns x 9 ops per node, 26,206 distinct cells.

    Args:
        data: Workspace whose cache holds the parsed tables' row order (the
            tables ship inside ``nas-bench-graph``).
    """

    name = "nasbench_graph"
    op_names = OPS
    node_types = NODE_TYPES

    def __init__(self, data: Workspace | None = None) -> None:
        super().__init__(data)

    @staticmethod
    def links(arch: Arch) -> tuple[int, ...]:
        """Input of each node 1..4."""
        return tuple(src for src, _ in arch.edges)

    def make(self, links: Sequence[int], ops: Sequence[int]) -> Arch:
        """Build an ``Arch`` from node inputs and op ids (validated)."""
        arch = Arch(self.name, tuple(int(o) for o in ops), tuple((int(s), k + 1) for k, s in enumerate(links)))
        self.validate(arch)
        return arch

    # -- text form ---------------------------------------------------------
    def parse(self, text: str) -> Arch:
        if not isinstance(text, str):
            raise InvalidArchitectureError(text, f"expected a string, got {type(text).__name__}")
        tokens = text.split("|")
        if len(tokens) != NUM_NODES:
            raise InvalidArchitectureError(
                text, f"expected {NUM_NODES} tokens op~input separated by '|', found {len(tokens)}"
            )
        pos, ops, links = 0, [], []
        for k, token in enumerate(tokens, start=1):
            op_name, sep, src = token.partition("~")
            if not sep:
                raise InvalidArchitectureError(text, f"token {token!r} is not of the form op~input", pos)
            if op_name not in OPS:
                raise InvalidArchitectureError(
                    text, f"unknown operation {quote(op_name)}; valid: {', '.join(OPS)}", pos
                )
            if not src.isdigit() or not 0 <= int(src) < k:
                raise InvalidArchitectureError(
                    text, f"node {k}'s input must be 0..{k - 1} (0 = graph input), got {src!r}", pos + len(op_name) + 1
                )
            ops.append(OPS.index(op_name))
            links.append(int(src))
            pos += len(token) + 1
        arch = Arch(self.name, tuple(ops), tuple((s, k + 1) for k, s in enumerate(links)))
        self.validate(arch)
        return arch

    def format(self, arch: Arch) -> str:
        self.validate(arch)
        return "|".join(f"{OPS[o]}~{s}" for o, s in zip(arch.ops, self.links(arch), strict=False))

    # -- validity ----------------------------------------------------------
    def validate(self, arch: Arch) -> None:
        if not isinstance(arch, Arch):
            raise InvalidArchitectureError(arch, f"expected an Arch, got {type(arch).__name__}")
        if arch.space != self.name:
            raise InvalidArchitectureError(arch, f"belongs to space {arch.space!r}, not {self.name!r}")
        if len(arch.ops) != NUM_NODES or len(arch.edges) != NUM_NODES:
            raise InvalidArchitectureError(arch, f"needs {NUM_NODES} ops and {NUM_NODES} edges")
        for k, (op, (src, dst)) in enumerate(zip(arch.ops, arch.edges, strict=False)):
            if not 0 <= op < len(OPS):
                raise InvalidArchitectureError(arch, f"op id {op} out of range 0..{len(OPS) - 1}", k)
            if dst != k + 1 or not 0 <= src <= k:
                raise InvalidArchitectureError(arch, f"edge {(src, dst)} must be (0..{k}, {k + 1})", k)
        if all(op == SKIP for op in arch.ops):
            raise InvalidArchitectureError(arch, "a cell of only skip operations is not in the benchmark")

    # -- equivalence and rows -----------------------------------------------------
    def benchmark_hash(self, arch: Arch) -> int:
        """The benchmark's key of ``arch``'s class (from the installed package)."""
        self.validate(arch)
        return int(_NBGArch(list(self.links(arch)), [OPS[o] for o in arch.ops]).valid_hash())

    def canonical(self, arch: Arch) -> Arch:
        links, ops = decode_hash(self.benchmark_hash(arch))
        return self.make(links, ops)

    @cached_property
    def _rows(self) -> tuple[np.ndarray, dict[int, int]]:
        hashes = self._require_data().space_rows(self.name)
        return hashes, {int(h): i for i, h in enumerate(hashes)}

    def from_index(self, index: int) -> Arch:
        hashes, _ = self._rows
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(hashes):
            raise InvalidArchitectureError(index, f"NAS-Bench-Graph row must be an integer in 0..{len(hashes) - 1}")
        return self.make(*decode_hash(int(hashes[index])))

    def index(self, arch: Arch) -> int:
        return self._rows[1][self.benchmark_hash(arch)]

    def indices(self, archs: Sequence[Arch]) -> np.ndarray:
        lookup = self._rows[1]
        return np.fromiter((lookup[self.benchmark_hash(a)] for a in archs), dtype=np.int64, count=len(archs))

    # -- sampling and local moves -----------------------------------------------
    def sample(self, n: int, rng: np.random.Generator) -> list[Arch]:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        out: list[Arch] = []
        while len(out) < n:
            ops = tuple(int(v) for v in rng.integers(0, len(OPS), size=NUM_NODES))
            links = tuple(int(rng.integers(0, k + 1)) for k in range(NUM_NODES))
            if all(o == SKIP for o in ops):
                continue
            out.append(self.make(links, ops))
        return out

    def neighbors(self, arch: Arch) -> list[Arch]:
        self.validate(arch)
        links, out = list(self.links(arch)), []
        for k in range(NUM_NODES):
            for op in range(len(OPS)):
                if op != arch.ops[k]:
                    ops = (*arch.ops[:k], op, *arch.ops[k + 1 :])
                    if not all(o == SKIP for o in ops):
                        out.append(self.make(links, ops))
            for src in range(k + 1):
                if src != links[k]:
                    out.append(self.make([*links[:k], src, *links[k + 1 :]], arch.ops))
        return out

    # -- encodings ---------------------------------------------------------
    def to_dense(self, arch: Arch) -> tuple[torch.Tensor, torch.Tensor]:
        """6 nodes: graph input, the 4 op nodes, output (fed by every unconsumed node)."""
        self.validate(arch)
        n = NUM_NODES + 2
        adj, x = torch.zeros(n, n), torch.zeros(n, len(NODE_TYPES))
        links = self.links(arch)
        for k, src in enumerate(links, start=1):
            adj[src, k] = 1
        for k in range(1, NUM_NODES + 1):
            if k not in links:
                adj[k, n - 1] = 1
        x[0, 0] = 1
        x[n - 1, 1] = 1
        for k, op in enumerate(arch.ops, start=1):
            x[k, 2 + op] = 1
        return adj, x

    def read_dense(self, adj: torch.Tensor, x: torch.Tensor) -> Arch:
        """Each op node's one input and operation; the output edges are ignored (they follow from the inputs)."""
        n = NUM_NODES + 2
        if tuple(adj.shape) != (n, n) or tuple(x.shape) != (n, len(NODE_TYPES)):
            raise InvalidArchitectureError("<dense>", f"expected adj {(n, n)} and x {(n, len(NODE_TYPES))}")
        types = x.argmax(dim=1).tolist()
        if types[0] != 0 or types[-1] != 1 or any(t < 2 for t in types[1:-1]):
            raise InvalidArchitectureError("<dense>", "node types must be input, 4 operations, output")
        links = []
        for k in range(1, NUM_NODES + 1):
            srcs = adj[:k, k].nonzero().flatten().tolist()
            if len(srcs) != 1:
                raise InvalidArchitectureError("<dense>", f"node {k} must have exactly one input, found {len(srcs)}")
            links.append(srcs[0])
        return self.make(links, [t - 2 for t in types[1:-1]])

    def from_dense(self, adj: torch.Tensor, x: torch.Tensor) -> Arch:
        arch = self.read_dense(adj, x)
        if not torch.equal((adj != 0).float(), self.to_dense(arch)[0]):
            raise InvalidArchitectureError("<dense>", "output edges do not match the unconsumed nodes")
        return arch

    def dense_derived(self) -> torch.Tensor:
        """The edges into the output node (from every node no other node consumes)."""
        n = NUM_NODES + 2
        out = torch.zeros(n, n, dtype=torch.bool)
        out[1 : NUM_NODES + 1, n - 1] = True
        return out

    def dense_mask(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Each op node picks one earlier node as input and one of :data:`OPS`; which op nodes feed the output
        follows from the links (those no other node consumes), so those edges vary too."""
        n = NUM_NODES + 2
        adj_mask = torch.zeros(n, n, dtype=torch.bool)
        for k in range(1, NUM_NODES + 1):
            adj_mask[:k, k] = True
            adj_mask[k, n - 1] = True
        x_mask = torch.zeros(n, len(NODE_TYPES), dtype=torch.bool)
        x_mask[1 : NUM_NODES + 1, 2:] = True
        return adj_mask, x_mask

    def encode(self, archs: Sequence[Arch], kind: FlatEncoding = "onehot") -> np.ndarray:
        """``"onehot"``: each node's input (4 x 4) and op (4 x 9), shape ``(n, 52)``.

        ``"path"`` is not defined for this space (paths are at most the 4 nodes
        of a tree; the one-hot already determines them) and raises ``ValueError``.
        """
        if kind != "onehot":
            raise ValueError(f"encoding {kind!r} is not available for {self.name}; valid: onehot")
        out = np.zeros((len(archs), NUM_NODES * NUM_NODES + NUM_NODES * len(OPS)), dtype=np.float32)
        for r, a in enumerate(archs):
            self.validate(a)
            for k, (op, src) in enumerate(zip(a.ops, self.links(a), strict=False)):
                out[r, k * NUM_NODES + src] = 1
                out[r, NUM_NODES * NUM_NODES + k * len(OPS) + op] = 1
        return out
