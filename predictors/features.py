"""Flat architecture features shared by the learned predictors.

Two parts, concatenated:

* **Encoding** of the canonical form of each architecture (isomorphic cells
  get the same row): the space's one-hot encoding, plus for NB201 the BANANAS
  path encoding and per-operation counts.
* **Label-free measurements** (optional): parameter count, FLOPs and
  zero-cost proxy scores. ``"table"`` reads the published label-free columns
  of the benchmark table (``params``, ``flops``, ``naswot_v1``, ``zc_*``; NaN
  where unpublished); ``"computed"`` uses archgen's own zero-cost proxies
  (:mod:`archgen.predictors.zerocost`, NB201 only, cached on disk).

No accuracy column is ever used as a feature.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from archgen.arch import Arch
from archgen.errors import NoDataError, UnknownNameError
from archgen.predictors.zerocost import PROXIES, score_archs
from archgen.spaces import get_space

if TYPE_CHECKING:
    from archgen.context import Workspace
    from archgen.datasets.tables import BenchmarkTable

#: Metric names of a table that carry no label information.
LABEL_FREE_METRICS = ("params", "flops", "naswot_v1")
ZC_SOURCES = ("none", "table", "computed")


def _encode_canonical(archs: Sequence[Arch]) -> np.ndarray:
    space = get_space(archs[0].space)
    can = [space.canonical(a) for a in archs]
    parts = [space.encode(can, "onehot")]
    if space.name == "nb201":
        parts.append(space.encode(can, "path"))
        ops = np.array([a.ops for a in can], dtype=np.int64)
        parts.append(np.stack([(ops == k).sum(1) for k in range(len(space.op_names))], 1).astype(np.float32))
    return np.concatenate(parts, axis=1).astype(np.float64)


def class_ids(archs: Sequence[Arch]) -> np.ndarray:
    """Isomorphism class of each architecture, numbered ``0, 1, ...`` in order of first appearance."""
    if not archs:
        return np.zeros(0, dtype=np.int64)
    space = get_space(archs[0].space)
    ids: dict[Arch, int] = {}
    return np.array([ids.setdefault(space.canonical(a), len(ids)) for a in archs], dtype=np.int64)


_ENCODING_MEMO: dict[Arch, np.ndarray] = {}
_ENCODING_MEMO_MAX = 500_000


def encoding_features(archs: Sequence[Arch]) -> np.ndarray:
    """Encodings of the canonical forms, shape ``(n, d)`` (``d`` depends on the space).

    Rows are memoised per architecture, so repeated predictions skip the
    canonicalisation.
    """
    missing = list(dict.fromkeys(a for a in archs if a not in _ENCODING_MEMO))
    if missing:
        rows = _encode_canonical(missing)
        if len(_ENCODING_MEMO) + len(missing) > _ENCODING_MEMO_MAX:
            _ENCODING_MEMO.clear()
        _ENCODING_MEMO.update(zip(missing, rows, strict=False))
    return np.stack([_ENCODING_MEMO[a] for a in archs])


def table_feature_columns(table: BenchmarkTable, task: str) -> tuple[tuple[str, str], ...]:
    """The ``(task, metric)`` columns of ``table`` used as label-free features for ``task``.

    Columns of ``task`` come first; columns only published for another task of
    the same space (e.g. NB201's ``naswot_v1``, published for CIFAR-10 only) are
    added after, since they describe the same architecture.
    """
    tasks = table.tasks()
    if task not in tasks:
        raise UnknownNameError(f"task of space {table.space!r}", task, tasks)
    seen: dict[str, tuple[str, str]] = {}
    for t in [task, *sorted(set(tasks) - {task})]:
        for m in table.metrics(t):
            if (m in LABEL_FREE_METRICS or m.startswith("zc_")) and m not in seen:
                seen[m] = (t, m)
    return tuple(seen[m] for m in sorted(seen))


def require_data(data: Workspace | None, what: str) -> Workspace:
    """``data``, or a :class:`NoDataError` saying that ``what`` needs benchmark data."""
    if data is None:
        raise NoDataError(
            f"{what} needs benchmark data: bind a Workspace (get_predictor(..., data=workspace) or "
            "predictor.bind(workspace)), or use zc='none'"
        )
    return data


def table_features(archs: Sequence[Arch], task: str, data: Workspace) -> tuple[np.ndarray, list[str]]:
    """Published label-free columns for ``archs``, shape ``(n, k)``; NaN where unpublished or without a row."""
    space = archs[0].space
    table = data.table(space)
    cols = table_feature_columns(table, task)
    rows = table.search_space.rows_or_missing(archs)
    out = np.full((len(archs), len(cols)), np.nan)
    ok = rows >= 0
    out[ok] = filled_table_columns(data, space, cols)[rows[ok]]
    return out, [f"{t}/{m}" for t, m in cols]


def filled_table_columns(data: Workspace, space: str, cols: tuple[tuple[str, str], ...]) -> np.ndarray:
    """Table columns ``[num_rows, len(cols)]``, unpublished values filled from isomorphic cells.

    NAS-Bench-Suite-Zero scored one cell per isomorphism class of NB201 (9,445
    of 15,625 rows; every other row has a scored twin). A label-free measurement
    is a property of the function the cell computes, so a row without a value
    takes the mean of its class's published values; rows whose class has none
    stay NaN. Memoised in the workspace.
    """
    return data.memo(("filled-columns", space, cols), lambda: _fill_columns(data.table(space), cols))


def table_class_ids(table: BenchmarkTable) -> np.ndarray:
    """Isomorphism class of every row of ``table``, shape ``(num_rows,)``."""
    sp = table.search_space
    return class_ids([sp.from_index(i) for i in range(table.num_rows)])


def _fill_columns(table: BenchmarkTable, cols: tuple[tuple[str, str], ...]) -> np.ndarray:
    X = np.stack([np.asarray(table.column(t, m), dtype=np.float64) for t, m in cols], 1)
    if not np.isnan(X).any():
        X.setflags(write=False)
        return X
    cls = table_class_ids(table)
    n_classes = int(cls.max()) + 1
    for j in range(X.shape[1]):
        col = X[:, j]
        ok = np.isfinite(col)
        if ok.all() or not ok.any():
            continue
        sums = np.bincount(cls[ok], weights=col[ok], minlength=n_classes)
        counts = np.bincount(cls[ok], minlength=n_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / counts
        col[~ok] = means[cls[~ok]]
    X.setflags(write=False)
    return X


def computed_features(archs: Sequence[Arch], task: str, data: Workspace) -> tuple[np.ndarray, list[str]]:
    """archgen's own zero-cost scores (all proxies) for ``archs``, shape ``(n, 13)``."""
    scores = score_archs(archs, task=task, proxies=PROXIES, data=data)
    return np.stack([scores[p] for p in PROXIES], 1), [f"zc/{p}" for p in PROXIES]


def label_free_features(
    archs: Sequence[Arch], task: str | None, zc: str = "table", data: Workspace | None = None
) -> np.ndarray:
    """The label-free measurements alone, shape ``(n, k)`` (``k = 0`` for ``zc="none"``); may contain NaN.

    Args:
        archs: Architectures of one space.
        task: Benchmark task whose label-free columns / images are used;
            required unless ``zc == "none"``.
        zc: One of :data:`ZC_SOURCES`.
        data: The workspace holding the tables and images; required unless ``zc == "none"``.
    """
    if zc not in ZC_SOURCES:
        raise UnknownNameError("zero-cost feature source", zc, ZC_SOURCES)
    if zc == "none":
        return np.zeros((len(archs), 0))
    if task is None:
        raise ValueError(f"zc={zc!r} needs a task")
    ws = require_data(data, f"zc={zc!r} features")
    return (table_features(archs, task, ws) if zc == "table" else computed_features(archs, task, ws))[0]


def arch_features(
    archs: Sequence[Arch], task: str | None, zc: str = "table", data: Workspace | None = None
) -> np.ndarray:
    """Encoding plus (optionally) label-free measurements, shape ``(n, d)``; may contain NaN.

    Arguments as for :func:`label_free_features`.
    """
    extra = label_free_features(archs, task, zc, data)
    return np.concatenate([encoding_features(archs), extra], axis=1)


class Standardizer:
    """Signed-log transform, standardise, impute NaN with 0 and add missing-value indicators.

    Fitted on training features; turns a matrix with NaN into a dense one for
    models that cannot take NaN (GP, GNN, ridge). Columns that are constant on
    the training set are dropped.
    """

    def fit(self, X: np.ndarray) -> Standardizer:
        X = np.asarray(X, dtype=np.float64)
        with np.errstate(all="ignore"):
            self.big_ = np.nanmax(np.abs(np.nan_to_num(X, nan=0.0)), axis=0, initial=0.0) > 50
        Z = self._log(X)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            self.mean_ = np.nan_to_num(np.nanmean(Z, axis=0))
            std = np.nanstd(Z, axis=0)
        self.std_ = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
        self.keep_ = np.flatnonzero(np.nan_to_num(std) > 1e-12)
        self.missing_ = np.flatnonzero(np.isnan(X).any(axis=0))
        return self

    def _log(self, X: np.ndarray) -> np.ndarray:
        """Signed log1p of heavy-tailed columns (params, flops, synflow...)."""
        X = np.asarray(X, dtype=np.float64)
        big = self.big_
        Z = X.copy()
        Z[:, big] = np.sign(X[:, big]) * np.log1p(np.abs(X[:, big]))
        return Z

    def transform(self, X: np.ndarray) -> np.ndarray:
        # clipped: a column nearly constant on a small training set would
        # otherwise give unseen architectures huge z-scores
        Z = np.clip((self._log(X) - self.mean_) / self.std_, -5.0, 5.0)
        miss = np.isnan(X[:, self.missing_]).astype(np.float64)
        return np.concatenate([np.nan_to_num(Z[:, self.keep_], nan=0.0), miss], axis=1)

    def get_arrays(self) -> dict[str, np.ndarray]:
        return {
            "std_mean": self.mean_,
            "std_std": self.std_,
            "std_keep": self.keep_,
            "std_missing": self.missing_,
            "std_big": self.big_,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Standardizer:
        s = cls()
        s.mean_, s.std_ = arrays["std_mean"], arrays["std_std"]
        s.keep_, s.missing_ = (
            arrays["std_keep"].astype(np.int64),
            arrays["std_missing"].astype(np.int64),
        )
        s.big_ = arrays["std_big"].astype(bool)
        return s
