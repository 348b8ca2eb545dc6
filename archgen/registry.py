"""A name -> object registry, shared by search spaces, benchmark tables and predictors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from archgen.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects of one kind by name: duplicates raise, unknown names list the valid ones.

    A registry imports none of its members: they are added by the package that defines them
    (spaces, tables) or by :mod:`archgen.composition` (every other kind).

    Args:
        kind: What the names name, for messages (``"search space"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name``; a name already taken raises :class:`ValueError`."""
        if name in self._items:
            raise ValueError(f"a {self.kind} named {name!r} is already registered ({self._items[name]!r})")
        self._items[name] = obj
        return obj

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def get(self, name: str) -> T:
        """The object registered as ``name``; unknown names raise :class:`UnknownNameError`."""
        try:
            return self._items[name]
        except KeyError:
            if not self._items:  # nothing registered: the caller has not imported the composition root
                raise UnknownNameError(self.kind, name, ["(none registered: import archgen.composition)"]) from None
            raise UnknownNameError(self.kind, name, self._items) from None

    def remove(self, name: str) -> T:
        """Unregister ``name`` and return what was registered (unknown names raise)."""
        obj = self.get(name)
        del self._items[name]
        return obj

    @contextmanager
    def temporarily(self, name: str, obj: T) -> Iterator[T]:
        """Register ``obj`` as ``name`` for the ``with`` block, then remove it (for tests)."""
        self.add(name, obj)
        try:
            yield obj
        finally:
            self._items.pop(name, None)
