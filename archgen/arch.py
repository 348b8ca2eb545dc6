"""The architecture value shared by every search space."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Arch:
    """An architecture: a hashable value, with no tensors and no network.

    What ``ops`` and ``edges`` mean is defined by the search space named in
    ``space`` (see each space's docstring); an ``Arch`` is only meaningful
    together with that space. Values are compared field by field, so two
    ``Arch`` that compute the same function but are written differently are
    *not* equal: compare ``space.canonical(a) == space.canonical(b)`` for that.

    Attributes:
        space: Registered name of the search space, e.g. ``"nb201"``.
        ops: Operation ids, in the space's fixed order of positions.
        edges: Directed edges ``(src, dst)`` between nodes, for spaces whose
            topology varies (empty for fixed-topology spaces such as NB201).
    """

    space: str
    ops: tuple[int, ...]
    edges: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        # Normalise lists to tuples so that the value stays hashable.
        if not isinstance(self.ops, tuple):
            object.__setattr__(self, "ops", tuple(int(o) for o in self.ops))
        if not isinstance(self.edges, tuple) or any(not isinstance(e, tuple) for e in self.edges):
            object.__setattr__(self, "edges", tuple((int(a), int(b)) for a, b in self.edges))
