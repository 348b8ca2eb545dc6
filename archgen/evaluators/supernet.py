"""Evaluation by a trained weight-sharing supernet: a path's held-out accuracy after BN recalibration."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from archgen.arch import Arch
from archgen.evaluators.base import EvalResult, Evaluator, register_evaluator

if TYPE_CHECKING:  # torch comes with the supernet; a table search needs neither
    from archgen.datasets.images import ImageArrayDataset
    from archgen.supernets.training import OneShotSupernet


@register_evaluator
class SupernetEvaluator(Evaluator):
    """Each architecture's accuracy (%) as a path of a trained supernet (:meth:`OneShotSupernet.estimate`).

    The calibration and held-out images are prepared once; results are cached per architecture (a repeat
    is free), and each new evaluation is charged the seconds it took.

    Args:
        supernet: A trained :class:`~archgen.supernets.training.OneShotSupernet`.
        calib: Training images the batch-norm statistics are recomputed on.
        heldout: Images the accuracy is measured on (never trained on).
        source: Provenance written into each result (e.g. the supernet's store id).
    """

    name: ClassVar[str] = "supernet"
    objective = "supernet_acc"

    def __init__(
        self, supernet: OneShotSupernet, calib: ImageArrayDataset, heldout: ImageArrayDataset, *, source: str | None = None
    ) -> None:
        super().__init__()
        supernet._check_fitted()
        self.supernet = supernet
        self.space = supernet.space
        self._xc, self._xh, self._yh = supernet.scoring_tensors(calib, heldout)
        self.source = f"supernet:{source or supernet.name}"
        self._cache: dict[Arch, float] = {}

    def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
        out = []
        for a in archs:
            if a in self._cache:
                out.append(EvalResult(a, self._cache[a], {self.objective: self._cache[a]}, 0.0, self.source))
                continue
            t0 = time.perf_counter()
            v = float(self.supernet.estimate_prepared([a], self._xc, self._xh, self._yh)[0])
            self._cache[a] = v
            out.append(EvalResult(a, v, {self.objective: v}, time.perf_counter() - t0, self.source))
        return out

    def reset(self) -> None:
        super().reset()
        self._cache.clear()


__all__ = ["SupernetEvaluator"]
