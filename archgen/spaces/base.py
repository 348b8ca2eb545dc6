"""The search-space interface and its registry.

A search space says what can be built: how architectures are written, which
ones are valid, how they are sampled, mutated and encoded. It holds no
measurements (those are in :mod:`archgen.datasets`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Literal, TypeVar

import numpy as np
import torch

from archgen.arch import Arch
from archgen.errors import InvalidArchitectureError, NoDataError, UnsupportedOperationError
from archgen.registry import Registry

if TYPE_CHECKING:  # torch_geometric costs ~5 s to import: only at call time
    from torch_geometric.data import Data  # lazy: torch_geometric takes 1.5-5 s; only graph encodings need it

    from archgen.context import Workspace

FlatEncoding = Literal["onehot", "path"]


class SearchSpace(ABC):
    """Interface every search space implements.

    Subclasses set :attr:`name` and :attr:`op_names` and implement the abstract
    methods; the contract test suite (``tests/spaces/test_contract.py``) runs
    over every registered space.

    Args:
        data: The workspace whose benchmark table gives the space its row
            order (:meth:`index`, :meth:`indices`, :meth:`from_index`).
            ``None``: a space without rows, for parsing, sampling and encoding;
            its row methods raise :class:`~archgen.errors.NoDataError`. Build
            spaces with rows through :meth:`archgen.context.Workspace.space`.
    """

    def __init__(self, data: Workspace | None = None) -> None:
        self.data = data

    def _require_data(self) -> Workspace:
        if self.data is None:
            raise NoDataError(
                f"space {self.name!r} was built without benchmark data, so it has no rows: "
                f"use Workspace(paths).space({self.name!r})"
            )
        return self.data

    #: Registered name, e.g. ``"nb201"``.
    name: ClassVar[str]
    #: Operation names; an op id is a position in this tuple.
    op_names: ClassVar[tuple[str, ...]]
    #: Node-feature vocabulary of :meth:`to_graph` / :meth:`to_dense`.
    node_types: ClassVar[tuple[str, ...]]

    # -- text form ---------------------------------------------------------
    @abstractmethod
    def parse(self, text: str) -> Arch:
        """Parse the space's string form.

        Raises:
            InvalidArchitectureError: naming the offending token and its
                character position.
        """

    @abstractmethod
    def format(self, arch: Arch) -> str:
        """The space's string form of ``arch`` (inverse of :meth:`parse`)."""

    # -- validity ----------------------------------------------------------
    @abstractmethod
    def validate(self, arch: Arch) -> None:
        """Raise :class:`InvalidArchitectureError` unless ``arch`` is in the space."""

    def is_valid(self, arch: Arch) -> bool:
        """Whether ``arch`` belongs to this space."""
        try:
            self.validate(arch)
        except InvalidArchitectureError:
            return False
        return True

    def coerce(self, value: Arch | str | int) -> Arch:
        """Turn user input (an ``Arch``, the string form or an index) into a valid ``Arch``."""
        if isinstance(value, Arch):
            if value.space != self.name:
                raise InvalidArchitectureError(value, f"belongs to space {value.space!r}, not {self.name!r}")
            self.validate(value)
            return value
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return self.from_index(int(value))
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit():
                return self.from_index(int(text))
            return self.parse(text)
        raise InvalidArchitectureError(value, f"expected a string, an index or an Arch, got {type(value).__name__}")

    # -- indexing ------------------------------------------------------------
    def from_index(self, index: int) -> Arch:
        """The architecture at row ``index`` of the space's benchmark table."""
        raise InvalidArchitectureError(index, f"space {self.name!r} has no index")

    def index(self, arch: Arch) -> int:
        """Row of ``arch`` in the space's benchmark table (inverse of :meth:`from_index`)."""
        raise InvalidArchitectureError(arch, f"space {self.name!r} has no index")

    def indices(self, archs: Sequence[Arch]) -> np.ndarray:
        """Rows of many architectures, shape ``(n,)`` (``InvalidArchitectureError`` for one without a row)."""
        return np.array([self.index(a) for a in archs], dtype=np.int64)

    def rows_or_missing(self, archs: Sequence[Arch]) -> np.ndarray:
        """Rows of ``archs``, shape ``(n,)``, ``-1`` for an architecture without a row."""
        try:
            return self.indices(archs)
        except (InvalidArchitectureError, KeyError):
            out = np.full(len(archs), -1, dtype=np.int64)
            for k, a in enumerate(archs):
                try:
                    out[k] = self.index(a)
                except (InvalidArchitectureError, KeyError):
                    pass
            return out

    # -- equivalence -------------------------------------------------------
    @abstractmethod
    def canonical(self, arch: Arch) -> Arch:
        """One representative of the class of architectures computing the same function."""

    # -- sampling and local moves -----------------------------------------------
    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator) -> list[Arch]:
        """``n`` valid architectures drawn with ``rng`` (uniform over the raw encoding)."""

    def sample_distinct(self, n: int, rng: np.random.Generator) -> list[Arch]:
        """Up to ``n`` distinct architectures: the first ``n`` distinct ones of ``2 n`` :meth:`sample` draws."""
        return list(dict.fromkeys(self.sample(2 * n, rng)))[:n]

    @abstractmethod
    def neighbors(self, arch: Arch) -> list[Arch]:
        """Every valid architecture one edit (one op or one edge) away from ``arch``."""

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """A random neighbour that computes a different function from ``arch``.

        Returns a new value; ``arch`` is unchanged.

        Raises:
            InvalidArchitectureError: if every neighbour is equivalent to ``arch``.
        """
        self.validate(arch)
        own = self.canonical(arch)
        candidates = [b for b in self.neighbors(arch) if self.canonical(b) != own]
        if not candidates:
            raise InvalidArchitectureError(arch, "no neighbour computes a different function")
        return candidates[int(rng.integers(len(candidates)))]

    # -- encodings ---------------------------------------------------------
    @abstractmethod
    def to_dense(self, arch: Arch) -> tuple[torch.Tensor, torch.Tensor]:
        """Operation-on-node DAG as dense tensors.

        Returns:
            ``(adj, x)``: ``adj`` of shape ``[num_nodes, num_nodes]`` with
            ``adj[i, j] = 1`` for an edge ``i -> j``; ``x`` of shape
            ``[num_nodes, len(node_types)]``, a one-hot node type per row.
        """

    @abstractmethod
    def from_dense(self, adj: torch.Tensor, x: torch.Tensor) -> Arch:
        """Inverse of :meth:`to_dense`."""

    @abstractmethod
    def dense_mask(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Which entries of the dense encoding are free to vary between architectures.

        Returns:
            ``(adj_mask, x_mask)``, boolean, shapes ``[num_nodes, num_nodes]``
            and ``[num_nodes, len(node_types)]`` (as :meth:`to_dense`). Entries
            outside the mask are the same for every architecture of the space
            (NB201's adjacency is fixed; NB101's is free above the diagonal and
            padded to 7 nodes). A generator noises and denoises only masked entries.
        """

    def dense_derived(self) -> torch.Tensor:
        """Free adjacency entries that follow from the rest of the dense form (boolean, ``[num_nodes, num_nodes]``).

        NAS-Bench-Graph's edges into the output node are those from the nodes
        no other node consumes: they vary between architectures but carry no
        choice of their own. A generator models only the other free entries and
        reads its samples with :meth:`read_dense`. Default: none.
        """
        adj_mask, _ = self.dense_mask()
        return torch.zeros_like(adj_mask)

    def read_dense(self, adj: torch.Tensor, x: torch.Tensor) -> Arch:
        """:meth:`from_dense` with the entries of :meth:`dense_derived` ignored (rebuilt from the others).

        Raises:
            InvalidArchitectureError: the other entries do not form an architecture of the space.
        """
        return self.from_dense(adj, x)

    def to_dense_batch(self, archs: Sequence[Arch]) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense encodings of many architectures: ``adj`` ``[B, N, N]`` and ``x`` ``[B, N, T]``."""
        if not archs:
            adj_mask, x_mask = self.dense_mask()
            return torch.zeros(0, *adj_mask.shape), torch.zeros(0, *x_mask.shape)
        pairs = [self.to_dense(a) for a in archs]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])

    # -- networks ------------------------------------------------------------
    def build_network(self, arch: Arch, num_classes: int, **width: int) -> torch.nn.Module:
        """The trainable network of ``arch`` (``torch.nn.Module`` mapping images to ``num_classes`` logits).

        Raises:
            UnsupportedOperationError: the space has no network builder.
        """
        raise UnsupportedOperationError(f"space {self.name!r} cannot build networks (only nb201 can, today)")

    def to_graph(self, arch: Arch) -> Data:
        """Operation-on-node DAG as a PyG ``Data``.

        ``x``: ``[num_nodes, len(node_types)]`` one-hot node types;
        ``edge_index``: ``[2, num_edges]`` (source row 0, target row 1).
        """
        from torch_geometric.data import Data  # lazy: torch_geometric takes 1.5-5 s; only graph encodings need it

        adj, x = self.to_dense(arch)
        edge_index = adj.nonzero().t().contiguous()
        return Data(x=x, edge_index=edge_index, num_nodes=x.shape[0])

    def from_graph(self, data: Data) -> Arch:
        """Inverse of :meth:`to_graph`."""
        n = int(data.num_nodes)
        adj = torch.zeros(n, n)
        adj[data.edge_index[0], data.edge_index[1]] = 1.0
        return self.from_dense(adj, data.x)

    @abstractmethod
    def encode(self, archs: Sequence[Arch], kind: FlatEncoding = "onehot") -> np.ndarray:
        """Flat encodings for tabular models: array of shape ``(len(archs), d)``."""


S = TypeVar("S", bound=type[SearchSpace])
_SPACES: Registry[type[SearchSpace]] = Registry("search space")


def register_space(cls: S) -> S:
    """Class decorator adding a search space to the registry (duplicates raise)."""
    _SPACES.add(cls.name, cls)
    return cls


def list_spaces() -> list[str]:
    """Names of the registered search spaces."""
    return _SPACES.names()


def space_class(name: str) -> type[SearchSpace]:
    """The registered class for ``name``; unknown names raise :class:`UnknownNameError`."""
    return _SPACES.get(name)


def get_space(name: str) -> SearchSpace:
    """A search space without rows (parse, validate, canonicalise, sample, encode).

    Instances are shared per name: a space without data holds no state besides
    caches (canonical forms). For row indices, use
    :meth:`archgen.context.Workspace.space`.
    """
    space = _INSTANCES.get(name)
    if space is None:
        space = _INSTANCES.setdefault(name, space_class(name)())
    return space


_INSTANCES: dict[str, SearchSpace] = {}
