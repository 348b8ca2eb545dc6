"""Where archgen's files are, and the one place that builds what is read from them.

:class:`Paths` is a small immutable value: the benchmark data directory, the
cache directory and archgen's home. The CLI and the service resolve it once
from :class:`~archgen.settings.Settings`; library code receives it (or the
:class:`Workspace` built from it) as an argument and never looks anywhere else.

:class:`Workspace` builds, from one :class:`Paths`, the verified data store,
the search spaces that know their table's row order, the benchmark tables, the
image sets, and derived caches (memoised per workspace). Two workspaces with
different paths share nothing, so two apps in one process never see each
other's data. :meth:`Workspace.for_owner` is one API key's view of a workspace:
the same tables, images and caches, but that key's own tasks and artifacts
(:attr:`Workspace.tasks`, :attr:`Workspace.owned`) and no one else's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from archgen.artifacts import ArtifactStore
from archgen.datasets.images import cifar10
from archgen.datasets.store import DataStore
from archgen.datasets.tables import space_rows_reader, table_loader
from archgen.paths import Paths
from archgen.spaces.base import space_class
from archgen.tasks.store import TaskStore

if TYPE_CHECKING:
    from archgen.datasets.images import ImageArrayDataset
    from archgen.datasets.tables import BenchmarkTable
    from archgen.paths import Paths
    from archgen.spaces.base import SearchSpace

T = TypeVar("T")


class Workspace:
    """Data store, search spaces, tables, images and caches built from one :class:`Paths`.

    Everything is built lazily, once, and kept for the workspace's life;
    building is thread-safe. Use :func:`workspace` to share one instance per
    :class:`Paths` within a process.

    Args:
        paths: Where the data, caches and home are.
    """

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        #: The API key whose view this is (``None``: the operator's, as the CLI sees it).
        self.owner: str | None = None
        self._lock = threading.Lock()  # guards _building only
        self._building: dict[Any, threading.RLock] = {}
        self._memo: dict[Any, Any] = {}

    def __reduce__(self) -> tuple:
        # a copy in another process (a Ray worker) is that process's workspace of the same paths and owner
        return (_owned_workspace, (self.paths, self.owner))

    def __repr__(self) -> str:
        own = "" if self.owner is None else ", owner=..."
        return f"Workspace(data_dir={str(self.paths.data_dir)!r}, cache_dir={str(self.paths.cache_dir)!r}{own})"

    def for_owner(self, owner: str | None) -> Workspace:
        """The view of API key ``owner``: shares every table, image and cache with this workspace, but its
        :attr:`tasks` and :attr:`owned` artifacts are the key's own (``None``: this workspace itself).

        Everything that reaches user tasks or supernets through the view (task resolution, images, zero-cost
        scores, supernets, generation, searches) sees only the key's.
        """
        if owner is None or owner == self.owner:
            return self
        if self.owner is not None:
            raise ValueError("a key's view has no view of another key")
        return self.memo(("owner-view", owner), lambda: self._view(owner))

    def _view(self, owner: str) -> Workspace:
        view = Workspace.__new__(Workspace)
        view.paths, view.owner = self.paths, owner
        view._lock, view._building, view._memo = self._lock, self._building, self._memo
        return view

    def memo(self, key: Any, build: Callable[[], T]) -> T:
        """``build()`` once per ``key`` for this workspace (derived data: feature columns, class ids...).

        A value already built is returned without waiting; building one key
        never holds up a reader of another (decoding CIFAR-10 for the zero-cost
        warm-up does not delay a prediction that needs a table).
        """
        try:
            return self._memo[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        with self._lock:
            lock = self._building.setdefault(key, threading.RLock())
        with lock:
            if key not in self._memo:
                self._memo[key] = build()
            return self._memo[key]  # type: ignore[no-any-return]

    @property
    def store(self) -> DataStore:
        """The verified benchmark data directory (raises ``DataNotFoundError`` naming the path)."""
        return self.memo("store", lambda: DataStore(self.paths.data_dir, self.paths.cache_dir))

    def space(self, name: str) -> SearchSpace:
        """Search space ``name`` with its table's row order (index) attached."""
        cls = space_class(name)
        return self.memo(("space", name), lambda: cls(data=self))

    def table(self, name: str) -> BenchmarkTable:
        """The benchmark table of space ``name`` (``UnknownNameError`` lists the spaces with tables)."""
        loader = table_loader(name)
        return self.memo(("table", name), lambda: loader(self))

    def space_rows(self, name: str) -> Any:
        """Space ``name``'s published row order, read once (what its ``from_index`` and ``index`` use).

        The reader is registered by the module that reads the space's data files
        (:func:`archgen.datasets.tables.register_space_rows`), so spaces never import the data layer.
        """
        reader = space_rows_reader(name)
        return self.memo(("space_rows", name), lambda: reader(self))

    def cifar10(self, split: str = "train") -> ImageArrayDataset:
        """CIFAR-10 ``split`` (``"train"`` or ``"test"``), verified and decoded once."""
        return self.memo(("cifar10", split), lambda: cifar10(split, self.store, progress=False))

    @property
    def models(self) -> ArtifactStore:
        """The service's artifact store under ``home/models`` (generators, predictors; shared by every view)."""
        return self.memo("models", lambda: ArtifactStore(self.paths.model_dir))

    @property
    def owned(self) -> ArtifactStore:
        """Artifacts the owner made (supernets): :attr:`models` for the operator, the key's own store for a
        key's view."""
        if self.owner is None:
            return self.models
        owner = self.owner
        return self.memo(("owned", owner), lambda: ArtifactStore(self.paths.owner_dir(owner) / "models"))

    @property
    def tasks(self) -> TaskStore:
        """The registered user tasks: under ``home/tasks`` for the operator; for a key's view, the key's own and,
        read-only, the operator's (:class:`TaskStore`'s ``shared``)."""
        if self.owner is None:
            return self.memo("tasks", lambda: TaskStore(self.paths.task_dir))
        owner = self.owner
        shared = TaskStore(self.paths.task_dir)  # the operator's tasks: every key reads them, none changes them
        return self.memo(("tasks", owner), lambda: TaskStore(self.paths.owner_dir(owner) / "tasks", shared=shared))


_WORKSPACES: dict[Paths, Workspace] = {}
_WORKSPACES_LOCK = threading.Lock()


def owned_bytes(data: Workspace) -> int:
    """Bytes on disk of what the owner of the view ``data`` made (its tasks and its artifacts); the operator's
    view counts ``home/tasks`` only (its artifacts are the service's store)."""
    roots = [data.tasks.root] + ([data.owned.root] if data.owner is not None else [])
    return sum(p.stat().st_size for root in roots if root.is_dir() for p in root.rglob("*") if p.is_file())


def _owned_workspace(paths: Paths, owner: str | None) -> Workspace:
    return workspace(paths).for_owner(owner)


def workspace(paths: Paths) -> Workspace:
    """The process's shared :class:`Workspace` for ``paths`` (keyed by the value, never a default)."""
    with _WORKSPACES_LOCK:
        ws = _WORKSPACES.get(paths)
        if ws is None:
            ws = _WORKSPACES[paths] = Workspace(paths)
        return ws
