"""Evaluation by a trained weight-sharing supernet: a path's held-out accuracy after BN recalibration."""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, ClassVar

from archgen.arch import Arch
from archgen.evaluators.base import EvalResult, Evaluator

if TYPE_CHECKING:  # torch comes with the supernet; a table search needs neither
    from archgen.datasets.images import ImageArrayDataset
    from archgen.supernets.oneshot import OneShotSupernet

#: One lock per supernet: scoring a path rewrites its batch-norm buffers, so paths are scored one at a time.
_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def _lock_of(supernet: Any) -> threading.Lock:
    with _LOCKS_LOCK:
        lock = _LOCKS.get(supernet)
        if lock is None:
            lock = _LOCKS[supernet] = threading.Lock()
        return lock


class SupernetEvaluator(Evaluator):
    """Each architecture's accuracy (%) as a path of a trained supernet (:meth:`OneShotSupernet.estimate`).

    The calibration and held-out images are prepared once; results are cached per architecture (a repeat
    is free), and each new evaluation is charged the seconds it took. Evaluators of one supernet may run in
    several threads: paths are scored one at a time (scoring rewrites the batch-norm buffers).

    Args:
        supernet: A trained :class:`~archgen.supernets.oneshot.OneShotSupernet`.
        calib: Training images the batch-norm statistics are recomputed on.
        heldout: Images the accuracy is measured on (never trained on).
        source: Provenance written into each result (e.g. the supernet's store id).
        shared: Another evaluator of the same supernet and images whose prepared tensors and computed values
            this one reuses (a search's own evaluator counts its own queries; a value computed for another
            search is charged the seconds it took there).
    """

    name: ClassVar[str] = "supernet"
    objective = "supernet_acc"

    def __init__(
        self,
        supernet: OneShotSupernet | None = None,
        calib: ImageArrayDataset | None = None,
        heldout: ImageArrayDataset | None = None,
        *,
        source: str | None = None,
        shared: SupernetEvaluator | None = None,
    ) -> None:
        super().__init__()
        if shared is not None:
            self.supernet, self.source = shared.supernet, shared.source
            self._xc, self._xh, self._yh = shared._xc, shared._xh, shared._yh
            self._values = shared._values
        else:
            if supernet is None or calib is None or heldout is None:
                raise TypeError("SupernetEvaluator needs supernet, calib and heldout (or shared=)")
            supernet._check_fitted()
            self.supernet = supernet
            self._xc, self._xh, self._yh = supernet.scoring_tensors(calib, heldout)
            self.source = f"supernet:{source or supernet.name}"
            self._values: dict[Arch, tuple[float, float]] = {}  # value and the seconds it took
        self.space = self.supernet.space
        self._seen: set[Arch] = set()

    @property
    def heldout_size(self) -> int:
        """Held-out images each path is scored on."""
        return int(self._yh.shape[0])

    def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
        out = []
        for a in archs:
            with _lock_of(self.supernet):
                hit = self._values.get(a)
                if hit is None:
                    t0 = time.perf_counter()
                    v = float(self.supernet.estimate_prepared([a], self._xc, self._xh, self._yh)[0])
                    hit = self._values[a] = (v, time.perf_counter() - t0)
            cost = 0.0 if a in self._seen else hit[1]
            self._seen.add(a)
            out.append(EvalResult(a, hit[0], {self.objective: hit[0]}, cost, self.source))
        return out

    def reset(self) -> None:
        super().reset()
        self._seen.clear()


__all__ = ["SupernetEvaluator"]
