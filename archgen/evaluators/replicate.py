"""The mean of several evaluations of each cell: the same training repeated with other seeds (a search's
intensification: its finalists are compared on the mean of two trainings, not on one training's luck)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from archgen.arch import Arch
from archgen.errors import SearchInputError
from archgen.evaluators.base import EvalResult, Evaluator


class Replicated(Evaluator):
    """Each cell evaluated by every one of ``evaluators`` (one space, objective and direction; e.g. a training
    with seed 0 and the same with seed 1): the value is the mean of their values (NaN when any is NaN: a
    replicate stopped by the budget is no replicate), the cost their sum (an evaluator that has the cell already,
    such as the search's own top fidelity, charges nothing again), every other value the mean of theirs, and
    ``values["replicates"]`` their number.
    """

    name: ClassVar[str] = "replicated"

    def __init__(self, evaluators: Sequence[Evaluator]) -> None:
        super().__init__()
        if len(evaluators) < 2:
            raise SearchInputError("a replicated evaluation needs at least two evaluators")
        first = evaluators[0]
        if any(
            (e.space, e.objective, e.maximize) != (first.space, first.objective, first.maximize) for e in evaluators
        ):
            raise SearchInputError("replicates must evaluate one space's cells for one objective")
        self.evaluators = list(evaluators)
        self.space, self.objective, self.maximize = first.space, first.objective, first.maximize
        self.source = f"mean of {len(evaluators)}: " + ", ".join(e.source for e in evaluators)

    def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
        each = [e.evaluate(archs) for e in self.evaluators]
        out = []
        for k, a in enumerate(archs):
            rs = [r[k] for r in each]
            keys = set.intersection(*(set(r.values) for r in rs)) - {"stopped"}
            values = {n: float(np.mean([r.values[n] for r in rs])) for n in keys}
            value = float(np.mean([r.value for r in rs]))
            stopped = any(r.values.get("stopped") for r in rs)
            values |= {self.objective: value, "replicates": float(len(rs))} | ({"stopped": 1.0} if stopped else {})
            out.append(EvalResult(a, value, values, float(sum(r.cost for r in rs)), self.source,
                                  fidelity=rs[0].fidelity))  # fmt: skip
        return out


__all__ = ["Replicated"]
