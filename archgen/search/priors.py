"""What a search may know before it pays for a label: label-free measurements, or other tasks' labels.

A :class:`Prior` is a table of features per architecture of an enumerated
space, read from published columns that are **not** labels of the target task:

* ``zero-cost`` (label-free): published zero-cost proxy scores (NAS-Bench-Suite-Zero:
  synflow, jacov, nwot) with FLOPs and parameters, computed on the task's images
  where published for every cell, else on CIFAR-10's (NB201 CIFAR-100: its
  published scores cover 725 cells only); NAS-Bench-Graph: parameters and latency.
* ``transfer``: the test accuracies of the space's *other* tasks, one per set of
  images (tasks on the target's images, such as CIFAR-10 and cifar10-valid, are
  the same task and never used).
  Searches with this prior are reported in their own "transfer" row.

Each column is turned into its percentile over the space (cells a source
leaves out, such as NB201's cells with dead edges, take the value of their
class, :meth:`SearchSpace.canonical`); :attr:`Prior.score` is the features'
mean percentile in the direction that predicts accuracy (the label-free vote
of :data:`archgen.services.generate.ZC_VOTE`, or the other tasks' mean). BO
appends the features to its encoding and starts from the cells the score
ranks highest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import rankdata

from archgen.datasets.tables import ENUMERATED
from archgen.errors import UnknownNameError
from archgen.predictors.features import table_class_ids
from archgen.search.strategies import SearchInputError

if TYPE_CHECKING:
    from archgen.datasets.tables import BenchmarkTable

#: Kinds of prior; ``transfer`` uses other tasks' labels.
PRIORS = ("zero-cost", "transfer")

#: Label-free columns per space (metric, whether larger predicts higher accuracy, part of the score).
_LABEL_FREE: dict[str, tuple[tuple[str, bool, bool], ...]] = {
    "nb201": (
        ("zc_synflow", True, True),
        ("zc_jacov", True, True),
        ("zc_nwot", True, True),
        ("params", True, True),
        ("flops", True, False),
    ),
    "nasbench_graph": (("params", True, True), ("latency", True, False)),
}

#: Least share of a space's cells a column must cover (after filling by class) to be used.
MIN_COVERAGE = 0.99


@dataclass(frozen=True)
class Prior:
    """Features of every cell of an enumerated space that use no label of the target task.

    Attributes:
        kind: ``"zero-cost"`` or ``"transfer"``.
        space, task: The space and the target task.
        columns: The ``task/metric`` columns read, in feature order.
        features: ``[num_rows, len(columns)]`` percentiles in [0, 1] (table row order).
        score: ``[num_rows]`` mean percentile of the scoring columns (larger: predicted better).
    """

    kind: str
    space: str
    task: str
    columns: tuple[str, ...]
    features: np.ndarray
    score: np.ndarray

    @property
    def uses_labels(self) -> bool:
        """Whether other tasks' labels are read (a "transfer" result)."""
        return self.kind == "transfer"

    def rows(self, space_rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Features of table rows."""
        return self.features[np.asarray(space_rows, dtype=np.int64)]

    def describe(self) -> str:
        return f"{self.kind} prior for {self.space}/{self.task} from {', '.join(self.columns)}"


def _percentile(col: np.ndarray) -> np.ndarray:
    out = np.full(len(col), np.nan)
    ok = np.isfinite(col)
    if ok.sum() > 1:
        out[ok] = (rankdata(col[ok]) - 1) / (ok.sum() - 1)
    return out


def _fill_by_class(col: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Missing values take the median of their class's published ones (NB201: cells with dead edges);
    ``classes``: each row's equivalence class (:func:`archgen.predictors.features.table_class_ids`)."""
    col = np.asarray(col, dtype=np.float64).copy()
    missing = ~np.isfinite(col)
    if not missing.any():
        return col
    order = np.argsort(classes, kind="stable")
    bounds = np.flatnonzero(np.diff(classes[order])) + 1
    for rows in np.split(order, bounds):  # the rows of one class
        gap = missing[rows]
        if gap.any() and not gap.all():
            col[rows[gap]] = float(np.median(col[rows[~gap]]))
    return col


def _label_free_columns(table: BenchmarkTable, task: str) -> list[tuple[str, str, bool, bool]]:
    spec = _LABEL_FREE.get(table.space)
    if spec is None:
        raise SearchInputError(f"no label-free prior for space {table.space!r} (have: {', '.join(_LABEL_FREE)})")
    sources = [task, *sorted(table.same_image_tasks(task))]
    if table.space == "nb201":
        sources.append("cifar10")  # CIFAR-10's published proxies serve the tasks whose own are incomplete
    out = []
    for metric, higher, scored in spec:
        for t in dict.fromkeys(sources):
            if t in table.tasks() and metric in table.metrics(t):
                col = np.asarray(table.column(t, metric), dtype=np.float64)
                if np.isfinite(col).mean() >= 0.5:  # published for most cells (the rest filled by class)
                    out.append((t, metric, higher, scored))
                    break
    return out


def build_prior(table: BenchmarkTable, task: str, kind: str) -> Prior:
    """The ``kind`` prior of ``task`` over ``table``'s space (see the module docstring).

    Raises:
        UnknownNameError: unknown kind or task.
        SearchInputError: the space has no such prior (not enumerated, or nothing published).
    """
    if kind not in PRIORS:
        raise UnknownNameError("prior", kind, PRIORS)
    if task not in table.tasks():
        raise UnknownNameError(f"task of space {table.space!r}", task, table.tasks())
    if not table.enumerates:
        raise SearchInputError(f"priors need an enumerated space ({', '.join(ENUMERATED)}), not {table.space!r}")
    if kind == "zero-cost":
        cols = _label_free_columns(table, task)
    else:
        used_images = {task, *table.same_image_tasks(task)}
        cols = []
        for t in table.tasks():
            if t in used_images:
                continue
            used_images |= {t, *table.same_image_tasks(t)}  # one column per set of images
            m = "test_acc" if "test_acc" in table.metrics(t) else table.default_target(t)[1]
            cols.append((t, m, True, True))

    classes: np.ndarray | None = None  # computed on the first column that needs it
    feats, scored, used = [], [], []
    for t, m, higher, in_score in cols:
        col = np.asarray(table.column(t, m), dtype=np.float64)
        if not np.isfinite(col).all():
            classes = table_class_ids(table) if classes is None else classes
            col = _fill_by_class(col, classes)
        if np.isfinite(col).mean() < MIN_COVERAGE:
            continue
        p = _percentile(col if higher else -col)
        p = np.where(np.isfinite(p), p, 0.0)  # the few cells without any published value: the bottom
        feats.append(p)
        used.append(f"{t}/{m}")
        if in_score:
            scored.append(p)
    if not scored:
        raise SearchInputError(f"nothing published for a {kind} prior of {table.space}/{task}")
    return Prior(kind, table.space, task, tuple(used), np.stack(feats, axis=1), np.mean(scored, axis=0))


__all__ = ["PRIORS", "Prior", "build_prior"]
