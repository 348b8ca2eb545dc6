"""RoBoT (He et al., "Robustifying and Boosting Training-Free Neural Architecture Search", ICLR 2024).

Training-free metrics disagree with each other and with accuracy from one
task to the next. RoBoT combines K of them linearly, ``M(A; w) = sum_k w_k m_k(A)``,
and searches the weights ``w`` by Bayesian optimisation: each query evaluates
(pays for) the architecture that maximises ``M(.; w)`` among those not yet
evaluated, and the GP on ``w`` learns which combinations point at good
architectures. With the rest of the budget it exploits: the cells ranked
highest by the best weights found so far (the weights of the best
architecture evaluated) are evaluated in order (greedy search).

The metrics are a label-free :class:`~archgen.search.priors.Prior`'s features
(published zero-cost proxies, FLOPs and parameters, as percentiles); so the
strategy needs a prior and an enumerated space.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from botorch.acquisition import LogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood

from archgen.arch import Arch
from archgen.search.strategies import SearchInputError, Strategy

if TYPE_CHECKING:
    from archgen.search.priors import Prior
    from archgen.spaces.base import SearchSpace


class RoBoT(Strategy):
    """BO over the weights of a combination of training-free metrics, then greedy search with it.

    Args:
        prior: The metrics (:func:`~archgen.search.priors.build_prior`, ``"zero-cost"``); required.
        bo_queries: Evaluations spent by BO over the weights before the greedy phase.
        n_init: Random weight vectors before the first GP.
        weight_samples: Sobol weight vectors in ``[-1, 1]^K`` the acquisition (expected improvement) is
            maximised over.
    """

    name = "robot"
    takes_prior = True

    def __init__(
        self, prior: Prior | None = None, bo_queries: int = 20, n_init: int = 4, weight_samples: int = 1024
    ) -> None:
        if bo_queries < 1 or n_init < 1 or weight_samples < 1:
            raise SearchInputError("need bo_queries >= 1, n_init >= 1, weight_samples >= 1")
        self.prior = prior
        self.bo_queries, self.n_init, self.weight_samples = bo_queries, n_init, weight_samples

    def setup(self, space: SearchSpace, rng: np.random.Generator, candidates: Sequence[Arch] | None = None) -> None:
        if self.prior is None:
            raise SearchInputError("robot needs a prior of training-free metrics (robot+zero-cost)")
        if self.prior.space != space.name:
            raise SearchInputError(f"the prior is of space {self.prior.space!r}, not {space.name!r}")
        super().setup(space, rng, candidates)
        feats = np.asarray(self.prior.features, dtype=float)
        self._m = (feats - feats.mean(axis=0)) / (feats.std(axis=0) + 1e-12)  # [rows, K] standardised
        self._rows = (
            np.asarray(space.indices(self.candidates), dtype=np.int64)
            if self.candidates is not None
            else np.arange(len(feats))
        )
        self._w_of: dict[Arch, np.ndarray] = {}  # the weights whose argmax each evaluated cell was

    def _argmax(self, w: np.ndarray, exclude: set[Arch]) -> Arch | None:
        scores = self._m[self._rows] @ w
        for i in np.argsort(-scores, kind="stable")[: len(self.seen) + len(exclude) + 1]:
            a = self.space.from_index(int(self._rows[int(i)]))
            if a not in self.seen and a not in exclude:
                return a
        return None

    def _weights(self, n: int) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, size=(n, self._m.shape[1]))

    def ask(self, q: int) -> list[Arch]:
        k = self._m.shape[1]
        out: list[Arch] = []
        if len(self.archs) < self.bo_queries:
            n = min(q, self.bo_queries - len(self.archs))
            ws = self._weights(8 * n) if len(self.archs) < self.n_init else self._propose(n)
            for w in ws:  # in order of preference; a weight whose best new cell is already picked is skipped
                a = self._argmax(w, set())
                if a is not None and a not in out:
                    out.append(a)
                    self._w_of[a] = w
                    if len(out) == n:
                        return out
            for w in ws:  # rarely: fewer distinct cells than weights
                a = self._argmax(w, set(out))
                if a is None or len(out) == n:
                    break
                out.append(a)
                self._w_of[a] = w
            return out
        y = np.array(self.y, dtype=float)
        best = int(np.nanargmax(np.where(np.isfinite(y), y, -np.inf)))
        w_best = self._w_of.get(self.archs[best], np.ones(k))
        while len(out) < q:
            a = self._argmax(w_best, set(out))
            if a is None:
                break
            out.append(a)
            self._w_of[a] = w_best
        return out

    def _propose(self, n: int) -> np.ndarray:
        """``n`` weight vectors by expected improvement of the GP on (weights -> accuracy of their argmax)."""
        y = np.array(self.y, dtype=float)
        ok = [i for i in range(len(y)) if np.isfinite(y[i]) and self.archs[i] in self._w_of]
        if len(ok) < 2:
            return self._weights(n)
        k = self._m.shape[1]
        X = torch.as_tensor(np.stack([self._w_of[self.archs[i]] for i in ok]), dtype=torch.float64)
        Y = torch.as_tensor(y[ok], dtype=torch.float64).unsqueeze(-1)
        cand = self._weights(self.weight_samples)
        seed = int(self.rng.integers(2**31 - 1))
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            bounds = torch.stack([-torch.ones(k), torch.ones(k)]).double()
            model = SingleTaskGP(X, Y, input_transform=Normalize(k, bounds=bounds), outcome_transform=Standardize(m=1))
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            with torch.no_grad():
                acq = LogExpectedImprovement(model, best_f=Y.max())(torch.as_tensor(cand).unsqueeze(1)).numpy()
        # the best weights first; weights with the same argmax give one cell, so keep going down the list
        return cand[np.argsort(-acq, kind="stable")[: max(n, 1) * 8]]


__all__ = ["RoBoT"]
