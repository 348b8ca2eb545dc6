"""What a search did: every evaluation in order, with its batch, cost and wall time (JSON round trip)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
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
        fidelity: A multi-fidelity search's rung (index into :attr:`SearchHistory.fidelities`); ``None`` otherwise.
    """

    architecture: str
    value: float
    cost: float
    batch: int
    values: dict[str, float] = field(default_factory=dict)
    fidelity: int | None = None


@dataclass
class SearchHistory:
    """A search's record (see :func:`~archgen.search.loop.run_search`).

    Attributes:
        space, strategy, objective, maximize, seed, budget, batch_size: What was run.
        evaluations: Every evaluation, in the order they were paid for.
        batch_seconds: Wall time of each batch (proposal and evaluation).
        finished: Whether the budget was spent (a checkpoint of an interrupted search is not).
        objectives: A multi-objective search's objectives, ``[name, maximize]`` each (the first is
            :attr:`objective`); empty for a single objective.
        fidelities: A multi-fidelity search's fidelities, cheapest first (JSON objects, e.g. ``{"epochs": 2}``);
            empty otherwise.
        budget_unit: What :attr:`budget` counts: ``evaluations``, or ``seconds`` of cost (a multi-fidelity search).
        overhead: Cost spent before the first evaluation (e.g. a prior's zero-cost scores), in the budget's unit.
        result: What the search returns beyond its evaluations (e.g. the best cell trained on a final schedule).
        setup: What the search was started with beyond its parameters, recorded so that a resumed search is
            the same search whatever changed meanwhile (e.g. a prior's candidate pool and sources).
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
    objectives: list[list[Any]] = field(default_factory=list)
    fidelities: list[dict[str, Any]] = field(default_factory=list)
    budget_unit: str = "evaluations"
    overhead: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict)

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

    def spent(self) -> float:
        """Cost spent so far: the evaluations' and :attr:`overhead`."""
        return self.overhead + math.fsum(e.cost for e in self.evaluations if math.isfinite(e.cost))

    def top_fidelity(self) -> int | None:
        """The highest rung with a finite value (``None``: not a multi-fidelity search, or no value yet)."""
        rungs = [e.fidelity for e in self.evaluations if e.fidelity is not None and math.isfinite(e.value)]
        return max(rungs) if rungs else None

    def best(self, fidelity: int | None = None) -> Evaluation | None:
        """The best evaluation (first of ties), or ``None`` before any finite value; in a multi-fidelity search,
        the best at ``fidelity`` (a rung; default: the highest reached: values of different fidelities are not
        compared)."""
        top = self.top_fidelity() if fidelity is None else fidelity
        finite = [e for e in self.evaluations if math.isfinite(e.value) and (top is None or e.fidelity == top)]
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

    def objective_matrix(self) -> np.ndarray:
        """``[n, m]`` values of the objectives, each signed so that larger is better (NaN where missing)."""
        objs = self.objectives or [[self.objective, self.maximize]]
        out = np.full((len(self.evaluations), len(objs)), np.nan)
        for i, e in enumerate(self.evaluations):
            for j, (name, maximize) in enumerate(objs):
                v = e.value if j == 0 else e.values.get(name, math.nan)
                out[i, j] = v if maximize else -v
        return out

    def front(self) -> list[int]:
        """Indices of the evaluations on the Pareto front of :attr:`objectives` (no NaN; first of duplicates)."""
        return pareto_front(self.objective_matrix())

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


def pareto_front(Y: np.ndarray) -> list[int]:
    """Rows of ``Y`` (``[n, m]``, larger is better) that no other row dominates; rows with NaN never are."""
    Y = np.asarray(Y, dtype=float)
    ok = np.flatnonzero(np.isfinite(Y).all(axis=1))
    out: list[int] = []
    seen: set[tuple[float, ...]] = set()
    for i in ok[np.lexsort(-Y[ok].T[::-1])] if len(ok) else ok:
        key = tuple(Y[i].tolist())
        if key in seen:
            continue
        if not any(np.all(Y[j] >= Y[i]) and np.any(Y[j] > Y[i]) for j in out):
            out.append(int(i))
            seen.add(key)
    return sorted(out)


def hypervolume(Y: np.ndarray, ref: Sequence[float]) -> float:
    """Hypervolume dominated by the rows of ``Y`` (``[n, 2]``, larger is better) above the point ``ref``."""
    Y = np.asarray(Y, dtype=float)
    if Y.ndim != 2 or Y.shape[1] != 2:
        raise ValueError("hypervolume is computed for two objectives")
    P = Y[pareto_front(Y)]
    P = P[(P[:, 0] > ref[0]) & (P[:, 1] > ref[1])]
    if not len(P):
        return 0.0
    P = P[np.argsort(-P[:, 0])]  # first objective descending: the second ascends along the front
    hv, prev = 0.0, ref[1]
    for a, b in P:
        if b > prev:
            hv += (a - ref[0]) * (b - prev)
            prev = b
    return float(hv)
