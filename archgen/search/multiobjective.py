"""Multi-objective BO: qLogNEHVI over a discrete pool, returning a Pareto front.

The objectives (e.g. accuracy against a published latency on a named device)
are modelled by one GP each (a batched ``SingleTaskGP``); q log noisy expected
hypervolume improvement (Daulton et al., NeurIPS 2021; the log form of Ament
et al., NeurIPS 2023) is maximised over the pool by sequential greedy
selection (``optimize_acqf_discrete``). The reference point is BoTorch's
``infer_reference_point`` of the observed values. The front of a history is
:meth:`SearchHistory.front`; :func:`true_front` and :func:`hypervolume_ratio`
measure it against the table's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.optim import optimize_acqf_discrete
from botorch.sampling import SobolQMCNormalSampler
from botorch.utils.multi_objective.hypervolume import infer_reference_point

from archgen.arch import Arch
from archgen.search.history import hypervolume, pareto_front
from archgen.search.strategies import BayesianOptimization, SearchInputError


class MultiObjectiveBO(BayesianOptimization):
    """qLogNEHVI over a pool of the front's neighbours and random cells (the whole space where small).

    Args: as :class:`~archgen.search.strategies.BayesianOptimization` (``acquisition`` is fixed; a
        smaller pool and fewer samples by default: hypervolume improvement costs more per candidate),
        and the objectives come from :func:`~archgen.search.loop.run_search`'s ``objectives``.
        ref_point: The reference point of the hypervolume, one value per objective, each signed so that
            larger is better (a minimised latency of 10 ms is -10): only what beats it on every objective
            counts. Default: BoTorch's ``infer_reference_point`` of the observed values.
    """

    name = "mobo"
    multi_objective = True
    takes_generator = False  # its pool is bo's, but the generator's cells were measured for bo only

    def __init__(
        self, *, pool_size: int = 500, mc_samples: int = 64, ref_point: Sequence[float] | None = None, **kwargs: Any
    ) -> None:
        super().__init__("qlognei", pool_size=pool_size, mc_samples=mc_samples, **kwargs)
        if ref_point is not None:
            ref_point = [float(v) for v in ref_point]
            if not all(np.isfinite(ref_point)):
                raise SearchInputError(f"ref_point must be finite, got {ref_point}")
        self.ref_point = ref_point

    def _front_rows(self) -> list[int]:
        Y = np.array(self.Y, dtype=float).reshape(len(self.Y), -1)
        return pareto_front(Y)

    def _pool(self) -> list[Arch]:
        if self.candidates is not None and len(self.candidates) <= self.pool_size:
            return [a for a in self.candidates if a not in self.seen]
        pool: dict[Arch, None] = {}
        for i in self._front_rows()[: max(self.incumbents, 1) * 4]:
            for b in self.space.neighbors(self.archs[int(i)]):
                if self._fresh(b):
                    pool[b] = None
        for a in self._random(max(0, self.pool_size - len(pool)), self.seen | set(pool)):
            pool[a] = None
        return list(pool)

    def _acquire(self, pool: list[Arch], q: int) -> list[Arch]:
        Y = np.array(self.Y, dtype=float).reshape(len(self.Y), -1)
        if Y.shape[1] < 2:
            return super()._acquire(pool, q)  # one objective: plain BO

        ok = np.flatnonzero(np.isfinite(Y).all(axis=1))
        X = torch.as_tensor(self._encode([self.archs[i] for i in ok]), dtype=torch.float64)
        Yt = torch.as_tensor(Y[ok], dtype=torch.float64)
        C = torch.as_tensor(self._encode(pool), dtype=torch.float64)
        seed = int(self.rng.integers(2**31 - 1))
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = self._fit(X, Yt)
            acq = qLogNoisyExpectedHypervolumeImprovement(
                model,
                ref_point=self.ref_point if self.ref_point is not None else infer_reference_point(Yt).tolist(),
                X_baseline=X,
                sampler=SobolQMCNormalSampler(torch.Size([self.mc_samples]), seed=seed),
                prune_baseline=True,
            )
            chosen, _ = optimize_acqf_discrete(acq, q, C, max_batch_size=512, unique=True)
        return self._picked(pool, C, chosen)


def true_front(Y: np.ndarray) -> np.ndarray:
    """The Pareto front of every row of ``Y`` (``[n, m]``, larger is better), e.g. a whole table."""
    Y = np.asarray(Y, dtype=float)
    return Y[pareto_front(Y)]


def hypervolume_ratio(found: np.ndarray, table: np.ndarray, ref: Sequence[float] | None = None) -> float:
    """Hypervolume of ``found`` over that of the table's front (1.0: the true front found).

    Both are measured above ``ref`` (default: the worst value of each objective in ``table``, the
    nadir of the whole space, so that every architecture of the space counts).
    """
    table = np.asarray(table, dtype=float)
    ok = np.isfinite(table).all(axis=1)
    if ref is None:
        ref = table[ok].min(axis=0).tolist()
    whole = hypervolume(table[ok], ref)
    if whole <= 0:
        raise SearchInputError("the table's front has no hypervolume above the reference point")
    return hypervolume(np.asarray(found, dtype=float), ref) / whole


__all__ = ["MultiObjectiveBO", "hypervolume_ratio", "true_front"]
