"""Declared types and bounds of every predictor's constructor parameters.

A training request (``POST /v1/predictors``, ``archgen predictors train
--param``) may override a predictor's parameters. Each predictor class
declares, in ``hyperparameters``, the type and the range of every parameter it
takes (the contract suite checks that none is left out), so that a request
with a wrong type or a cost out of bounds (trees, bags, members, epochs...) is
refused at submission, naming the parameter and the bound, instead of failing
inside a job or running for hours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archgen.errors import PredictorInputError

#: Parameters a request never sets: the run's own fields give them.
DERIVED = ("task", "random_state")


@dataclass(frozen=True)
class Param:
    """One constructor parameter: its type, its range, and whether it drives the cost of a fit.

    Attributes:
        kind: ``"int"``, ``"float"``, ``"bool"``, ``"str"`` or ``"names"`` (a list of strings).
        low, high: Inclusive bounds (numbers), or the fewest and most names.
        choices: The allowed values (strings, or the allowed names of a list).
        optional: ``None`` is allowed (the predictor picks a value).
        cost: Bounds a fit's run time (named in the error so that users know why).
    """

    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False
    cost: bool = False

    def check(self, name: str, value: Any) -> Any:
        """``value`` as this parameter's type (a list becomes a tuple).

        Raises:
            PredictorInputError: naming the parameter, what was given and the bound.
        """
        if value is None:
            if self.optional:
                return None
            raise PredictorInputError(f"params.{name}: may not be null")
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise PredictorInputError(f"params.{name}: must be true or false, got {value!r}")
            return value
        if self.kind in ("int", "float"):
            return self._number(name, value)
        if self.kind == "str":
            if not isinstance(value, str):
                raise PredictorInputError(f"params.{name}: must be a string, got {value!r}")
            if self.choices and value not in self.choices:
                raise PredictorInputError(f"params.{name}: must be one of {', '.join(self.choices)}; got {value!r}")
            if len(value) > 64:
                raise PredictorInputError(f"params.{name}: at most 64 characters")
            return value
        if self.kind == "names":
            if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
                raise PredictorInputError(f"params.{name}: must be a list of names, got {value!r}")
            lo, hi = int(self.low or 0), int(self.high if self.high is not None else 64)
            if not lo <= len(value) <= hi:
                raise PredictorInputError(f"params.{name}: must name between {lo} and {hi} entries, got {len(value)}")
            bad = [v for v in value if self.choices and v not in self.choices]
            if bad:
                raise PredictorInputError(
                    f"params.{name}: unknown name(s) {', '.join(map(repr, bad))}; valid: {', '.join(self.choices)}"
                )
            return tuple(value)
        raise AssertionError(f"unknown parameter kind {self.kind!r}")

    def _number(self, name: str, value: Any) -> int | float:
        what = "an integer" if self.kind == "int" else "a number"
        ok = isinstance(value, int) and not isinstance(value, bool)
        if self.kind == "float":
            ok = ok or isinstance(value, float)
        if not ok:
            raise PredictorInputError(f"params.{name}: must be {what}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise PredictorInputError(f"params.{name}: must be finite, got {value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            why = " (it bounds the cost of a fit)" if self.cost else ""
            raise PredictorInputError(
                f"params.{name}: must be in [{_fmt(self.low)}, {_fmt(self.high)}]{why}; got {value!r}"
            )
        return float(value) if self.kind == "float" else int(value)


def _fmt(x: float | None) -> str:
    if x is None:
        return "..."
    return f"{x:g}"


def check_params(predictor: str, declared: Mapping[str, Param], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` checked against ``declared`` (the predictor's ``hyperparameters``), values normalised.

    Raises:
        PredictorInputError: a derived or unknown parameter, a wrong type, a value out of bounds.
    """
    clash = sorted(set(extra) & set(DERIVED))
    if clash:
        raise PredictorInputError(
            f"params may not set {', '.join(clash)}: give the task and seed as the training run's own fields"
        )
    unknown = sorted(set(extra) - set(declared))
    if unknown:
        raise PredictorInputError(
            f"unknown parameter(s) {', '.join(unknown)} for predictor {predictor!r}; valid: {', '.join(declared)}"
        )
    return {k: declared[k].check(k, v) for k, v in extra.items()}


# Shared declarations -----------------------------------------------------------------
ZC_SOURCE = Param("str", choices=("none", "table", "computed"))
SEED = Param("int", 0, 2**31 - 1)
BATCH_SIZE = Param("int", 1, 256, cost=True)
WIDTH = Param("int", 1, 64, cost=True)
CELLS = Param("int", 1, 5, cost=True)
#: The networks the zero-cost proxies are computed on (batch, first-stage width, cells per stage, seed).
PROXY_NET = {"batch_size": BATCH_SIZE, "C": WIDTH, "N": CELLS, "seed": SEED}
