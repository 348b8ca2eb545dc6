"""Domain services under the HTTP routes: parse once, then predict, look up or score.

Each function takes what it needs (a search space, a table, a served model,
a workspace) and returns typed results: the architecture as given, its
canonical form and the values. The routes validate, call one of these and
convert the result; the CLI and batch jobs call them the same way.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from archgen.arch import Arch
from archgen.errors import (
    ArchitectureListError,
    InvalidArchitectureError,
    TooManyArchitecturesError,
    UnknownNameError,
    UnsupportedSpaceError,
)
from archgen.predictors.zerocost import PROXIES, SUPPORTED_SPACES, score_archs, uncached_cells
from archgen.tasks.images import check_image_task

if TYPE_CHECKING:
    from archgen.artifacts import ArtifactRecord
    from archgen.context import Workspace
    from archgen.datasets.tables import BenchmarkTable
    from archgen.predictors.base import Predictor
    from archgen.predictors.zerocost import ZCSettings
    from archgen.spaces.base import SearchSpace

log = logging.getLogger("archgen.services.inference")

#: Rows predicted per call when filling a model's table in the background.
FILL_CHUNK = 2048


# -- parsing ----------------------------------------------------------------------
@dataclass(frozen=True)
class ArchBatch:
    """Architectures parsed and validated once, with their table rows.

    Attributes:
        space: The search space (with rows, when it has a table).
        given: The inputs as the caller wrote them (string form or row index).
        archs: The parsed architectures, one per input.
        rows: Table row of each, ``-1`` where it has none; shape ``(n,)``.
    """

    space: SearchSpace
    given: tuple[str | int, ...]
    archs: list[Arch]
    rows: np.ndarray
    _canonical: list[str | None] = field(default_factory=list, init=False, repr=False, compare=False)

    def canonical(self, memo: CanonicalMemo | None = None) -> list[str]:
        """String form of each architecture's canonical form (computed once per batch; per row with ``memo``)."""
        if self._canonical and all(c is not None for c in self._canonical):
            return self._canonical  # type: ignore[return-value]
        out = (
            memo.forms(self.space, self.archs, self.rows)
            if memo
            else [self.space.format(self.space.canonical(a)) for a in self.archs]
        )
        self._canonical[:] = out
        return out


def parse_batch(space: SearchSpace, items: Sequence[str | int | Arch], limit: int) -> ArchBatch:
    """Parse and validate ``items`` (string forms, row indices or ``Arch``) once.

    Raises:
        TooManyArchitecturesError: more than ``limit`` items.
        ArchitectureListError: naming the first malformed item's position and what is wrong.
    """
    if len(items) > limit:
        raise TooManyArchitecturesError(len(items), limit)
    archs = []
    for k, item in enumerate(items):
        try:
            archs.append(space.coerce(item))
        except InvalidArchitectureError as e:
            raise ArchitectureListError(k, e) from None
    rows = space.rows_or_missing(archs) if space.data is not None else np.full(len(archs), -1, dtype=np.int64)
    given = tuple(space.format(i) if isinstance(i, Arch) else i for i in items)
    return ArchBatch(space, given, archs, rows)


class CanonicalMemo:
    """Canonical string forms remembered per table row (thread-safe), per space."""

    def __init__(self) -> None:
        self._forms: dict[str, list[str | None]] = {}
        self._lock = threading.Lock()

    def forms(self, space: SearchSpace, archs: Sequence[Arch], rows: np.ndarray) -> list[str]:
        """Canonical form of each architecture (``rows``: their table rows, -1 where none)."""
        with self._lock:
            cache = self._forms.get(space.name)
            if cache is None:  # a space without data has no rows to remember forms by
                num_rows = space.data.table(space.name).num_rows if space.data is not None else 0
                cache = self._forms.setdefault(space.name, [None] * num_rows)
        out = []
        for arch, row in zip(archs, rows.tolist(), strict=True):
            text = cache[row] if 0 <= row < len(cache) else None
            if text is None:
                text = space.format(space.canonical(arch))
                if 0 <= row < len(cache):
                    cache[row] = text
            out.append(text)
        return out


# -- prediction ---------------------------------------------------------------------
@dataclass(frozen=True)
class Prediction:
    """One architecture's predicted value."""

    architecture: str | int
    canonical: str
    mean: float
    std: float | None


@dataclass(frozen=True)
class TargetInfo:
    """What a model predicts: the benchmark column (space, task, metric) and its training fidelity."""

    space: str
    task: str
    metric: str


@dataclass(frozen=True)
class Predictions:
    """The result of :func:`predict`: the model that answered and one :class:`Prediction` per input."""

    model: ArtifactRecord
    predictions: list[Prediction]


class ServedModel:
    """A loaded predictor with a per-row cache of its predictions.

    Predictions of a stored model are deterministic, so every prediction made
    is kept per table row. For spaces whose table enumerates the space (NB201:
    15,625 cells) :meth:`fill` predicts the whole table once, and requests
    become lookups.

    Args:
        predictor: The fitted predictor.
        record: Its store record.
        space: Its search space, with rows.
        num_rows: Rows of the space's benchmark table (``None``: no cache).
        cache_dir: Where the filled table of predictions is kept between starts
            (``None``: not kept). The file is named after the model's artifact
            hash, so a retrained or edited model never reads another's predictions.
    """

    def __init__(
        self,
        predictor: Predictor,
        record: ArtifactRecord,
        space: SearchSpace,
        num_rows: int | None,
        cache_dir: Path | None = None,
    ) -> None:
        self.predictor = predictor
        self.record = record
        self.space = space
        self._lock = threading.Lock()
        self._mean = np.full(num_rows, np.nan) if num_rows else None
        self._std = np.full(num_rows, np.nan) if num_rows else None
        self._file = cache_dir / f"{record.id}-{record.artifact_sha256[:16]}.npz" if cache_dir and num_rows else None
        if self._file is not None and self._file.is_file():
            try:
                with np.load(self._file, allow_pickle=False) as z:
                    mean, std = z["mean"], z["std"]
                if mean.shape == (num_rows,) and std.shape == (num_rows,):
                    self._mean, self._std = mean.astype(np.float64), std.astype(np.float64)
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:  # torn or foreign: recompute
                log.warning("ignoring prediction cache %s: %s", self._file, e)

    def _compute(self, archs: Sequence[Arch]) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:  # one prediction at a time: the machine's cores are already used by each
            return self.predictor.predict_with_uncertainty(list(archs), validated=True)

    def predict(self, archs: Sequence[Arch], rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of ``archs`` (``rows``: their table rows, -1 where none), shape ``(n,)`` each."""
        if self._mean is None or self._std is None or rows is None:
            return self._compute(archs)
        mean, std = np.empty(len(archs)), np.empty(len(archs))
        known = rows >= 0
        mean[known], std[known] = self._mean[rows[known]], self._std[rows[known]]
        miss = np.flatnonzero(~known | np.isnan(mean))
        if miss.size:
            m, s = self._compute([archs[i] for i in miss])
            mean[miss], std[miss] = m, s
            cached = miss[known[miss]]
            self._mean[rows[cached]], self._std[rows[cached]] = mean[cached], std[cached]
        return mean, std

    def fill(self, stop: threading.Event) -> None:
        """Predict every row of the table not predicted yet (until ``stop`` is set)."""
        if self._mean is None or self._std is None:
            return
        todo = np.flatnonzero(np.isnan(self._mean))
        if todo.size == 0:
            return
        t0 = time.perf_counter()
        for start in range(0, todo.size, FILL_CHUNK):
            if stop.is_set():
                return
            rows = todo[start : start + FILL_CHUNK]
            archs = [self.space.from_index(int(r)) for r in rows]
            self._mean[rows], self._std[rows] = self._compute(archs)
            time.sleep(0.01)  # let requests waiting for the lock in
        log.info("model %s: predicted all %d rows in %.1f s", self.record.id, todo.size, time.perf_counter() - t0)
        if self._file is not None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._file.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as f:
                np.savez(f, mean=self._mean, std=self._std)
            os.replace(tmp, self._file)


def predict(
    model: ServedModel, batch: ArchBatch, *, uncertainty: bool = True, memo: CanonicalMemo | None = None
) -> Predictions:
    """Predicted mean (and std) of every architecture of ``batch`` by ``model``.

    Raises:
        UnsupportedSpaceError: the model was trained for another space.
    """
    if model.record.space != batch.space.name:
        raise UnsupportedSpaceError(f"model {model.record.id!r}", batch.space.name, [model.record.space])
    mean, std = model.predict(batch.archs, batch.rows)
    canon = batch.canonical(memo)
    preds = [
        Prediction(given, c, float(m), (float(s) if np.isfinite(s) else None) if uncertainty else None)
        for given, c, m, s in zip(batch.given, canon, mean.tolist(), std.tolist(), strict=True)
    ]
    return Predictions(model.record, preds)


# -- lookups ------------------------------------------------------------------------
@dataclass(frozen=True)
class LookupRow:
    """Published metrics of one architecture: ``metrics[task][metric]`` (``None`` where unpublished)."""

    architecture: str | int
    canonical: str
    index: int
    metrics: dict[str, dict[str, float | None]]


def lookup(
    table: BenchmarkTable,
    batch: ArchBatch,
    tasks: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    *,
    memo: CanonicalMemo | None = None,
) -> list[LookupRow]:
    """What the benchmark measured for each architecture of ``batch``.

    Args:
        table: The space's benchmark table.
        batch: Parsed architectures (each must have a row).
        tasks: Tasks to report (``None``: every task; an empty list is an error).
        metrics: Metrics to report per task (``None``: all the task publishes).

    Raises:
        UnknownNameError: an unknown task, or metrics none of which a task publishes.
        InvalidArchitectureError: an architecture without a row (names its position).
    """
    if tasks is not None and len(tasks) == 0:
        raise UnknownNameError(f"task of space {table.space!r} (an empty list selects none)", "[]", table.tasks())
    rows = batch.rows
    missing = np.flatnonzero(rows < 0)
    if missing.size:
        k = int(missing[0])
        raise ArchitectureListError(
            k, InvalidArchitectureError(batch.given[k], f"has no row in the {table.space} table")
        )
    columns: dict[str, dict[str, np.ndarray]] = {}
    for task in tasks if tasks is not None else table.tasks():
        available = table.metrics(task)  # raises for an unknown task
        wanted = [m for m in (metrics or available) if m in available]
        if metrics and not wanted:
            raise UnknownNameError(f"metric of {table.space}/{task}", ", ".join(metrics), available)
        columns[task] = {m: table.lookup(task, m, rows) for m in wanted}
    canon = batch.canonical(memo)
    return [
        LookupRow(
            given,
            canon[k],
            int(rows[k]),
            {t: {m: _finite(col[k]) for m, col in cols.items()} for t, cols in columns.items()},
        )
        for k, given in enumerate(batch.given)
    ]


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


# -- zero-cost scores -------------------------------------------------------------------
@dataclass(frozen=True)
class ZeroCostScores:
    """One architecture's proxy scores (``None`` where a proxy has no finite value)."""

    architecture: str | int
    canonical: str
    scores: dict[str, float | None]


@dataclass(frozen=True)
class ZeroCostResult:
    """The result of :func:`zero_cost`."""

    space: str
    task: str
    settings: dict[str, int]  # ZCSettings.described(): the network and mini-batch the scores were computed with
    results: list[ZeroCostScores]
    cells: int
    cells_computed_by_this_run: int


def check_zero_cost(space: str, task: str, proxies: Sequence[str], data: Workspace) -> None:
    """Raise unless zero-cost proxies ``proxies`` can be computed for ``space``/``task`` (naming what cannot)."""
    if space not in SUPPORTED_SPACES:
        raise UnsupportedSpaceError("zero-cost proxies", space, SUPPORTED_SPACES)
    check_image_task(data, task, "task with images for zero-cost proxies")
    for p in proxies:
        if p not in PROXIES:
            raise UnknownNameError("zero-cost proxy", p, PROXIES)


def uncached_zero_cost_cells(
    data: Workspace, batch: ArchBatch, task: str, proxies: Sequence[str], settings: ZCSettings
) -> int:
    """How many distinct cells :func:`zero_cost` would compute (the others are cached)."""
    return uncached_cells(batch.archs, task, list(proxies), settings, data)


def zero_cost(
    data: Workspace,
    batch: ArchBatch,
    task: str,
    proxies: Sequence[str],
    settings: ZCSettings,
    *,
    on_cell: Callable[[int, int, int], None] | None = None,
) -> ZeroCostResult:
    """Zero-cost proxies of every architecture of ``batch``, computed on the task's images (cached per cell).

    Args:
        on_cell: ``on_cell(finished, cells, computed)`` after each computed cell
            (``finished`` counts cached cells too); may raise to stop.
    """
    proxies = list(dict.fromkeys(proxies))
    check_zero_cost(batch.space.name, task, proxies, data)
    canon = batch.canonical()
    cells = len(set(canon))
    computed = 0

    def report(done: int, todo: int) -> None:
        nonlocal computed
        computed = done
        if on_cell is not None:
            on_cell(cells - todo + done, cells, done)

    scores = score_archs(batch.archs, task, proxies, settings, data=data, on_cell=report)
    results = [
        ZeroCostScores(given, canon[k], {p: _finite(scores[p][k]) for p in proxies})
        for k, given in enumerate(batch.given)
    ]
    zs = settings.described()
    return ZeroCostResult(batch.space.name, task, zs, results, cells, computed)
