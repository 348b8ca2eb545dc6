"""The learning-curve table of one task: every candidate cell trained on the task's final schedule with several
seeds, each epoch's validation accuracy, test accuracy and seconds recorded.

File format (version :data:`CURVES_FORMAT`): one ``.npz`` (``numpy.savez_compressed``, read with ``allow_pickle=False``)
holding

* ``header``: UTF-8 JSON as ``uint8`` bytes: ``format`` (``"archgen-curves"``), ``version``, ``space``
  (``nb201``), ``task``, ``cells`` (the candidates, NB201 strings, in row order), ``kinds`` (per cell:
  ``random`` for the uniform sample, ``c10-top`` for CIFAR-10's best published cells), ``seeds``, ``epochs``,
  ``schedule`` (the training parameters), ``sha256`` (of the three arrays' bytes, in order), and free fields
  (the recipe, the machine, dates);
* ``val``, ``test``, ``seconds``: ``float32`` arrays ``[cells, seeds, epochs]``: accuracy (%) on the task's
  validation and test splits after each epoch, and the epoch's seconds (its training steps and its validation
  pass; the test pass is not charged); ``NaN`` where that training has not run (yet).

A training is *complete* when all its epochs are recorded. A cell's true quality (what a search's returned cell
is scored by) is its **seed-mean final test accuracy** over its complete trainings; searches see only validation
accuracies. Loading checks the header, the shapes and the checksum: a corrupt, truncated or foreign file is
refused with a :class:`~archgen.errors.DataError` naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archgen.errors import DataError

#: Version of the file format (module docstring).
CURVES_FORMAT = 1
_MAGIC = "archgen-curves"
_ARRAYS = ("val", "test", "seconds")


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in _ARRAYS:
        h.update(np.ascontiguousarray(arrays[k], dtype=np.float32).tobytes())
    return h.hexdigest()


@dataclass
class CurveTable:
    """A learning-curve table in memory (module docstring).

    Attributes:
        task: The task the cells were trained on.
        cells: Candidate cells (NB201 strings), in row order.
        kinds: Per cell, why it is a candidate (``random``, ``c10-top``).
        seeds, epochs: The table's shape past the cells.
        schedule: The training parameters (the final schedule a search's fidelities are epochs of).
        val, test, seconds: ``[cells, seeds, epochs]`` arrays (``NaN``: not run).
        meta: Free header fields (recipe, machine, dates).
    """

    task: str
    cells: list[str]
    kinds: list[str]
    seeds: int
    epochs: int
    schedule: dict[str, Any]
    val: np.ndarray
    test: np.ndarray
    seconds: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls, task: str, cells: list[str], kinds: list[str], seeds: int, epochs: int,
              schedule: dict[str, Any], **meta: Any) -> CurveTable:  # fmt: skip
        """A table with nothing recorded."""
        shape = (len(cells), seeds, epochs)
        nan = np.full(shape, np.nan, dtype=np.float32)
        return cls(task, list(cells), list(kinds), seeds, epochs, dict(schedule), nan, nan.copy(), nan.copy(), meta)

    def __post_init__(self) -> None:
        shape = (len(self.cells), self.seeds, self.epochs)
        if len(self.kinds) != len(self.cells):
            raise DataError(f"curve table of {self.task!r}: {len(self.kinds)} kinds for {len(self.cells)} cells")
        for k in _ARRAYS:
            a = getattr(self, k)
            if a.shape != shape:
                raise DataError(f"curve table of {self.task!r}: array {k} has shape {a.shape}, the header says {shape}")
        self._row = {c: i for i, c in enumerate(self.cells)}

    # -- reading -----------------------------------------------------------------------------------------------
    def row(self, cell: str) -> int:
        """The row of ``cell`` (``KeyError`` naming it when it is not a candidate)."""
        try:
            return self._row[cell]
        except KeyError:
            raise KeyError(f"cell {cell} is not a candidate of the curve table of {self.task!r}") from None

    def complete(self) -> np.ndarray:
        """``[cells, seeds]``: whether that training has all its epochs."""
        return np.isfinite(self.val).all(axis=2) & np.isfinite(self.seconds).all(axis=2)

    def seeds_of(self, row: int) -> list[int]:
        """The seeds of ``row``'s complete trainings."""
        return [int(s) for s in np.flatnonzero(self.complete()[row])]

    def usable(self) -> np.ndarray:
        """Rows with at least one complete training (a search may pick them)."""
        return np.flatnonzero(self.complete().any(axis=1))

    def mean_test(self) -> np.ndarray:
        """Each cell's seed-mean final test accuracy over its complete trainings (``NaN``: none): its true
        quality, by which a search's returned cell is scored."""
        done = self.complete()
        final = np.where(done, self.test[:, :, -1], np.nan)
        with np.errstate(invalid="ignore"):
            out = np.nanmean(np.where(done.any(axis=1, keepdims=True), final, 0.0), axis=1)
        return np.where(done.any(axis=1), out, np.nan)

    def mean_val(self, epoch: int | None = None) -> np.ndarray:
        """Each cell's seed-mean validation accuracy after ``epoch`` (default: the last) over complete trainings."""
        e = self.epochs - 1 if epoch is None else epoch - 1
        done = self.complete()
        v = np.where(done, self.val[:, :, e], 0.0)
        n = done.sum(axis=1)
        return np.where(n > 0, v.sum(axis=1) / np.maximum(n, 1), np.nan)

    def percentile(self, values: np.ndarray | float) -> np.ndarray | float:
        """Percentile (0-100) of seed-mean test accuracies among the usable cells' (ties count half)."""
        ref = self.mean_test()[self.usable()]
        v = np.asarray(values, dtype=float)
        out = 100.0 * ((ref[None, :] < v.reshape(-1, 1)).sum(1) + 0.5 * (ref[None, :] == v.reshape(-1, 1)).sum(1))
        out = out / max(len(ref), 1)
        return out.reshape(v.shape) if v.ndim else float(out[0])

    def full_cost(self) -> float:
        """Median seconds of one complete training (all epochs): the unit of budgets in full trainings."""
        done = self.complete()
        totals = self.seconds.sum(axis=2)[done]
        if not len(totals):
            raise DataError(f"curve table of {self.task!r} holds no complete training")
        return float(np.median(totals))

    def progress(self) -> dict[str, int]:
        """Complete trainings, cells with one and with two or more."""
        done = self.complete()
        return {"trainings": int(done.sum()), "cells_with_one": int((done.sum(1) >= 1).sum()),
                "cells_with_two": int((done.sum(1) >= 2).sum()), "cells": len(self.cells)}  # fmt: skip

    # -- writing -----------------------------------------------------------------------------------------------
    def record(self, row: int, seed: int, curve: list[dict[str, Any]]) -> None:
        """Write one training's curve (``{epoch, val_acc, test_acc, seconds}`` rows; ``heldout_acc`` stands for a
        missing ``val_acc``)."""
        if len(curve) != self.epochs:
            raise DataError(f"a curve of {len(curve)} epochs for a table of {self.epochs}")
        for r in curve:
            e = int(r["epoch"]) - 1
            v = r.get("val_acc")
            self.val[row, seed, e] = r["heldout_acc"] if v is None else v
            self.test[row, seed, e] = np.nan if r.get("test_acc") is None else r["test_acc"]
            self.seconds[row, seed, e] = r["seconds"]

    def header(self) -> dict[str, Any]:
        return {"format": _MAGIC, "version": CURVES_FORMAT, "space": "nb201", "task": self.task, "cells": self.cells,
                "kinds": self.kinds, "seeds": self.seeds, "epochs": self.epochs, "schedule": self.schedule,
                "sha256": _digest({k: getattr(self, k) for k in _ARRAYS}), "meta": self.meta}  # fmt: skip

    def save(self, path: Path) -> None:
        """Write the table to ``path`` atomically (a temporary file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        head = np.frombuffer(json.dumps(self.header()).encode(), dtype=np.uint8)
        np.savez_compressed(tmp, header=head, **{k: np.asarray(getattr(self, k), dtype=np.float32) for k in _ARRAYS})
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> CurveTable:
        """Read a table written by :meth:`save`.

        Raises:
            DataError: a missing, truncated, corrupt or foreign file, or one of another format version (naming it).
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"no curve table at {path} (build one with `archgen bench curves`)")
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in ("header", *_ARRAYS) if k not in z.files]
                if missing:
                    raise DataError(f"{path} is not a curve table: it lacks {', '.join(missing)}")
                head = json.loads(z["header"].tobytes().decode())
                arrays = {k: np.array(z[k], dtype=np.float32) for k in _ARRAYS}
        except DataError:
            raise
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, UnicodeDecodeError) as e:
            raise DataError(f"curve table {path} is corrupt or truncated ({type(e).__name__}: {e})") from None
        if not isinstance(head, dict) or head.get("format") != _MAGIC:
            raise DataError(f"{path} is not a curve table (its header is not archgen-curves)")
        if head.get("version") != CURVES_FORMAT:
            raise DataError(f"curve table {path} is format {head.get('version')}; this archgen reads {CURVES_FORMAT}")
        if head.get("sha256") != _digest(arrays):
            raise DataError(f"curve table {path} is corrupt: its arrays do not match the checksum in its header")
        try:
            return cls(head["task"], list(head["cells"]), list(head["kinds"]), int(head["seeds"]),
                       int(head["epochs"]), dict(head["schedule"]), arrays["val"], arrays["test"],
                       arrays["seconds"], dict(head.get("meta", {})))  # fmt: skip
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"curve table {path} has a malformed header ({e})") from None


__all__ = ["CURVES_FORMAT", "CurveTable"]
