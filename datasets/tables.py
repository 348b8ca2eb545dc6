"""One query interface over every published metric.

A :class:`BenchmarkTable` holds, for one search space, a float column per
``(task, metric)`` aligned to the space's rows (for NB201 the official index).
A value that was not published for a row is ``NaN``. Lookups are vectorised
fancy indexing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from archgen.arch import Arch
from archgen.errors import InvalidArchitectureError, UnknownNameError
from archgen.registry import Registry
from archgen.spaces.base import SearchSpace

if TYPE_CHECKING:
    from archgen.context import Workspace


@dataclass(frozen=True)
class MetricInfo:
    """What a column holds.

    Attributes:
        task: Dataset / task name, e.g. ``"cifar10"``.
        metric: Metric name, e.g. ``"test_acc"``.
        unit: Unit (``"%"``, ``"M"``, ``"ms"``...), ``""`` when unitless.
        source: Data folder it was read from.
        description: One line.
        higher_is_better: Direction for "best", or ``None`` when it has none.
    """

    task: str
    metric: str
    unit: str
    source: str
    description: str
    higher_is_better: bool | None = None


#: Spaces whose table enumerates every architecture (NAS-Bench-Graph's holds one row per class of equivalent
#: cells, 26,206); the others' tables are samples.
ENUMERATED = ("nb201", "nasbench_graph")
#: Tasks trained on the same images (their labels are the task's own, never a transfer source).
SAME_IMAGES = {("nb201", "cifar10"): {"cifar10-valid"}, ("nb201", "cifar10-valid"): {"cifar10"}}
#: Metrics tried, in order, as the default target of a non-NB201 task.
DEFAULT_METRICS = ("val_acc", "test_acc", "val_rocauc", "test_rocauc")


class BenchmarkTable:
    """Published metrics of one search space.

    Args:
        space: Search space name.
        num_rows: Number of architectures (rows).
        columns: ``{(task, metric): float array of shape (num_rows,)}``.
        info: ``{(task, metric): MetricInfo}`` for the same keys.
        space: The search space; its ``indices(archs)`` maps architectures to
            rows (raising :class:`InvalidArchitectureError` for one without a row).
        main_metrics: ``(task, metric)`` pairs reported by ``archgen data info``.
        sources: ``{data file: sha256}`` the columns were read from (recorded
            in the provenance of models trained on the table).
    """

    def __init__(
        self,
        space: SearchSpace,
        num_rows: int,
        columns: dict[tuple[str, str], np.ndarray],
        info: dict[tuple[str, str], MetricInfo],
        main_metrics: Sequence[tuple[str, str]] = (),
        sources: Mapping[str, str] | None = None,
    ) -> None:
        for key, col in columns.items():
            if col.shape != (num_rows,):
                raise ValueError(f"column {key} has shape {col.shape}, expected ({num_rows},)")
            if key not in info:
                raise ValueError(f"column {key} has no MetricInfo")
        self.space = space.name
        self.num_rows = num_rows
        self._columns = columns
        self.info = info
        self._search_space = space
        self.main_metrics = tuple(main_metrics)
        self.sources = dict(sources or {})

    @property
    def search_space(self) -> SearchSpace:
        """The search space whose rows this table holds (its index is the row order)."""
        return self._search_space

    # -- names ---------------------------------------------------------------
    def tasks(self) -> list[str]:
        """Tasks with at least one column."""
        return sorted({t for t, _ in self._columns})

    def metrics(self, task: str) -> list[str]:
        """Metrics published for ``task``."""
        self._check_task(task)
        return sorted(m for t, m in self._columns if t == task)

    def _check_task(self, task: str) -> None:
        if task not in {t for t, _ in self._columns}:
            raise UnknownNameError(f"task of space {self.space!r}", task, self.tasks())

    # -- lookups ---------------------------------------------------------------
    def column(self, task: str, metric: str) -> np.ndarray:
        """The whole column (read-only view), shape ``(num_rows,)``."""
        self._check_task(task)
        try:
            col = self._columns[(task, metric)]
        except KeyError:
            raise UnknownNameError(f"metric of {self.space}/{task}", metric, self.metrics(task)) from None
        view = col.view()
        view.flags.writeable = False
        return view

    def lookup(self, task: str, metric: str, rows: Iterable[int] | np.ndarray) -> np.ndarray:
        """Values at ``rows`` (vectorised), shape ``(len(rows),)``; NaN where unpublished.

        Raises:
            InvalidArchitectureError: for a row outside ``0..num_rows-1``.
        """
        idx = np.asarray(rows if isinstance(rows, np.ndarray) else list(rows), dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_rows):
            bad = int(idx[(idx < 0) | (idx >= self.num_rows)][0])
            raise InvalidArchitectureError(bad, f"row out of range 0..{self.num_rows - 1}")
        return self.column(task, metric)[idx]

    def rows(self, archs: Sequence[Arch]) -> np.ndarray:
        """Row numbers of ``archs``, shape ``(n,)``.

        Raises:
            InvalidArchitectureError: for an element that is not an ``Arch`` of
                this space (naming its position) or has no row.
        """
        for k, a in enumerate(archs):
            if not isinstance(a, Arch) or a.space != self.space:
                raise InvalidArchitectureError(a, f"not a {self.space} architecture", k)
        return self._search_space.indices(archs)

    def query(self, archs: Sequence[Arch], task: str, metric: str) -> np.ndarray:
        """Values for architectures: ``lookup(task, metric, rows(archs))``."""
        return self.lookup(task, metric, self.rows(archs))

    def best(self, task: str, metric: str) -> tuple[int, float]:
        """Row and value of the best published entry (by ``higher_is_better``)."""
        col = self.column(task, metric)
        direction = self.info[(task, metric)].higher_is_better
        if direction is None:
            raise ValueError(f"{task}/{metric} has no direction; 'best' is undefined")
        if np.all(np.isnan(col)):
            raise ValueError(f"{task}/{metric} has no published values")
        row = int(np.nanargmax(col) if direction else np.nanargmin(col))
        return row, float(col[row])

    def coverage(self, task: str, metric: str) -> int:
        """Number of rows with a published (non-NaN) value."""
        return int(np.count_nonzero(~np.isnan(self.column(task, metric))))

    # -- facts about the table's tasks and columns -------------------------------------------------------
    @property
    def enumerates(self) -> bool:
        """Whether the table holds every architecture of its space (:data:`ENUMERATED`), not a sample."""
        return self.space in ENUMERATED

    def same_image_tasks(self, task: str) -> set[str]:
        """The other tasks of this table trained on ``task``'s images (:data:`SAME_IMAGES`)."""
        return set(SAME_IMAGES.get((self.space, task), ()))

    def default_target(self, task: str) -> tuple[str, str]:
        """The ``(task, metric)`` column predictors target by default.

        NB201 follows the predictor papers: for CIFAR-10 the ``cifar10-valid``
        200-epoch validation accuracy, for the other tasks test accuracy.
        Elsewhere the first of :data:`DEFAULT_METRICS` the task publishes.
        """
        if self.space == "nb201":
            return ("cifar10-valid", "val_acc") if task == "cifar10" else (task, "test_acc")
        metrics = self.metrics(task)
        for m in DEFAULT_METRICS:
            if m in metrics:
                return task, m
        raise UnknownNameError(f"target metric of {self.space}/{task}", ",".join(DEFAULT_METRICS), metrics)

    def _same_network_tasks(self, task: str) -> list[str]:
        """``task`` and the tasks on the same images (whose hardware measurements are the task's), in order."""
        return [t for t in (task, *sorted(self.same_image_tasks(task))) if t in self.tasks()]

    def published_column(self, task: str, metric: str) -> tuple[str, str] | None:
        """``(task, metric)`` where the table publishes ``metric`` for ``task`` (NB201: CIFAR-10's for cifar10-valid)."""
        return next(((t, metric) for t in self._same_network_tasks(task) if metric in self.metrics(t)), None)

    def devices(self, task: str) -> dict[str, tuple[str, str]]:
        """Devices with published latency for ``task``: name -> ``(task, metric)`` (HW-NAS-Bench first, then HELP)."""
        out: dict[str, tuple[str, str]] = {}
        tasks = self._same_network_tasks(task)
        for t in tasks:
            for m in self.metrics(t):
                if m.startswith("hw_") and m.endswith("_latency"):
                    out.setdefault(m[3:-8], (t, m))
            if self.space == "nasbench_graph" and "latency" in self.metrics(t):
                out.setdefault("published", (t, "latency"))
        for t in tasks:
            for m in self.metrics(t):
                if m.startswith("latency_"):
                    out.setdefault(m[8:], (t, m))
        return out

    def device_column(self, task: str, device: str) -> tuple[str, str]:
        """``(task, metric)`` of ``device``'s published latency for ``task`` (unknown devices raise listing the known)."""
        known = self.devices(task)
        if device not in known:
            raise UnknownNameError(f"device with published latency for {self.space}/{task}", device, sorted(known))
        return known[device]

    def hardware_task(self, task: str) -> str:
        """The table task whose published hardware values a task's constraints read: the task itself, or for a
        user task (no table) CIFAR-10's (the same NB201 networks at 32x32; only the classifier's width differs)."""
        return task if task in self.tasks() else "cifar10"


TableLoader = Callable[["Workspace"], BenchmarkTable]
_TABLES: Registry[TableLoader] = Registry("benchmark space")


def register_table(space: str) -> Callable[[TableLoader], TableLoader]:
    """Decorator registering ``loader(workspace) -> BenchmarkTable`` for a search space (duplicates raise)."""

    def deco(fn: TableLoader) -> TableLoader:
        return _TABLES.add(space, fn)

    return deco


#: ``rows(workspace) -> object``: a space's published row order (what its ``from_index`` and ``index`` read),
#: registered by the module that reads the space's data files.
SpaceRows = Callable[["Workspace"], Any]
_ROWS: Registry[SpaceRows] = Registry("space with published rows")


def register_space_rows(space: str) -> Callable[[SpaceRows], SpaceRows]:
    """Decorator registering ``rows(workspace)``, the published row order of ``space`` (duplicates raise)."""

    def deco(fn: SpaceRows) -> SpaceRows:
        return _ROWS.add(space, fn)

    return deco


def space_rows_reader(space: str) -> SpaceRows:
    """The registered reader of ``space``'s row order (``UnknownNameError`` lists the spaces that have one)."""
    return _ROWS.get(space)


def list_tables() -> list[str]:
    """Spaces that have benchmark tables."""
    return _TABLES.names()


def table_loader(space: str) -> TableLoader:
    """The registered loader (``UnknownNameError`` lists the spaces with tables)."""
    return _TABLES.get(space)


def load_table(space: str, data: Workspace) -> BenchmarkTable:
    """The benchmark table of ``space`` in workspace ``data`` (parsed once, cached on disk and in the workspace).

    Raises:
        UnknownNameError: for a space without tables (lists those with tables).
        DataError: for missing or corrupt data files (names the file).
    """
    return data.table(space)
