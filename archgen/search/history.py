"""What a search did: every evaluation in order, with its batch, cost and wall time (JSON round trip)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Evaluation:
    """One paid evaluation.

    Attributes:
        architecture: The space's string form.
        value: The objective (NaN where the evaluator had none).
        cost: What it charged (e.g. simulated training epochs).
        batch: Index of the batch it was proposed in.
        values: Every value the evaluator returned (objective included).
    """

    architecture: str
    value: float
    cost: float
    batch: int
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class SearchHistory:
    """A search's record (see :func:`~archgen.search.loop.run_search`).

    Attributes:
        space, strategy, objective, maximize, seed, budget, batch_size: What was run.
        evaluations: Every evaluation, in the order they were paid for.
        batch_seconds: Wall time of each batch (proposal and evaluation).
        finished: Whether the budget was spent (a checkpoint of an interrupted search is not).
    """

    space: str
    strategy: str
    objective: str
    maximize: bool
    seed: int
    budget: int
    batch_size: int
    evaluations: list[Evaluation] = field(default_factory=list)
    batch_seconds: list[float] = field(default_factory=list)
    finished: bool = False

    @property
    def num_batches(self) -> int:
        return len(self.batch_seconds)

    def values(self) -> np.ndarray:
        """Objective of each evaluation, in order."""
        return np.array([e.value for e in self.evaluations], dtype=float)

    def best_so_far(self) -> np.ndarray:
        """Best objective after each evaluation (NaN ignored; the direction is :attr:`maximize`)."""
        v = self.values()
        if not self.maximize:
            v = -v
        v = np.where(np.isfinite(v), v, -np.inf)
        out = np.maximum.accumulate(v) if len(v) else v
        return out if self.maximize else -out

    def best(self) -> Evaluation | None:
        """The best evaluation (first of ties), or ``None`` before any finite value."""
        finite = [e for e in self.evaluations if math.isfinite(e.value)]
        if not finite:
            return None
        key = (lambda e: e.value) if self.maximize else (lambda e: -e.value)
        return max(finite, key=key)

    def evaluations_to(self, target: float, tol: float = 1e-9) -> int | None:
        """How many evaluations until one reached ``target`` (``None`` if none did)."""
        for k, e in enumerate(self.evaluations, start=1):
            if math.isfinite(e.value) and (e.value >= target - tol if self.maximize else e.value <= target + tol):
                return k
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchHistory:
        evals = [Evaluation(**e) for e in d.get("evaluations", [])]
        return cls(**{k: v for k, v in d.items() if k != "evaluations"}, evaluations=evals)

    def save(self, path: Path) -> None:
        """Write as JSON atomically (a checkpoint never half-written)."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict()))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> SearchHistory:
        return cls.from_dict(json.loads(Path(path).read_text()))
