"""Search strategies behind one ask/tell interface, so every method runs in the same harness.

A strategy proposes architectures (:meth:`Strategy.ask`), never evaluates them:
:func:`~archgen.search.loop.run_search` pays the evaluator and hands the values
back (:meth:`Strategy.tell`). Every strategy draws its randomness from the one
``numpy.random.Generator`` it is set up with, so a search is a function of its
seed and of the values it is told (which is what lets a checkpoint resume by
replay). Built in:

* ``random``: uniform samples (from the enumerated candidates where given).
* ``re``: regularized evolution (Real et al., AAAI 2019): tournament of
  ``sample_size`` among the last ``population`` evaluated, mutate the winner.
* ``ls``: local search (White et al., "Local search is state of the art for
  NAS benchmarks", 2020): evaluate the neighbours of the best cell in random
  order, move on improvement, restart at a random cell at a local optimum.
* ``bananas``: BANANAS's ensemble of MLPs on the path encoding with independent Thompson sampling.
* ``bo``: Bayesian optimisation with a BoTorch GP on the one-hot encoding and
  an acquisition function (qLogNEI, qUCB or Thompson sampling) maximised over a
  discrete candidate pool (``optimize_acqf_discrete``: sequential greedy with
  the batch's earlier picks as pending points). No label of the task is used
  before it is paid for: the first ``n_init`` cells are random.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from botorch.acquisition import qLogNoisyExpectedImprovement, qUpperConfidenceBound
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Standardize
from botorch.optim import optimize_acqf_discrete
from botorch.sampling import SobolQMCNormalSampler
from gpytorch.mlls import ExactMarginalLogLikelihood

from archgen.arch import Arch
from archgen.errors import ArchgenError, SearchInputError, UnknownNameError
from archgen.generators.base import Guidance
from archgen.predictors.base import get_predictor, list_predictors, predictor_class
from archgen.registry import Registry
from archgen.search.surrogates import PredictorModel

if TYPE_CHECKING:
    from archgen.generators.base import Generator
    from archgen.search.priors import Prior
    from archgen.spaces.base import SearchSpace


class Strategy(ABC):
    """Interface of a search strategy (see the module docstring)."""

    name: ClassVar[str]
    #: Whether :meth:`tell` takes several objectives (a ``[q, m]`` matrix, each larger-is-better).
    multi_objective: ClassVar[bool] = False
    #: Whether the constructor takes a ``prior`` (:class:`~archgen.search.priors.Prior`).
    takes_prior: ClassVar[bool] = False
    #: Whether the constructor takes a ``generator`` whose guided samples join its candidates.
    takes_generator: ClassVar[bool] = False

    def setup(self, space: SearchSpace, rng: np.random.Generator, candidates: Sequence[Arch] | None = None) -> None:
        """Start a search of ``space``; ``candidates``: every architecture (where the space is enumerated)."""
        self.space = space
        self.rng = rng
        self.candidates = list(candidates) if candidates is not None else None
        self._candidate_set = set(self.candidates) if self.candidates is not None else None
        self.seen: set[Arch] = set()
        self.archs: list[Arch] = []
        self.y: list[float] = []
        self.Y: list[np.ndarray] = []

    @abstractmethod
    def ask(self, q: int) -> list[Arch]:
        """``q`` distinct architectures not evaluated yet."""

    def tell(self, archs: Sequence[Arch], values: Sequence[float] | np.ndarray) -> None:
        """Values of the architectures of the last :meth:`ask` (NaN: no value; larger is better).

        With several objectives, ``values`` is a ``[q, m]`` array (kept in :attr:`Y`; :attr:`y` holds the
        first objective).
        """
        arr = np.asarray(values, dtype=float)
        rows = arr.reshape(len(archs), -1)
        for a, r in zip(archs, rows, strict=True):
            self.seen.add(a)
            self.archs.append(a)
            self.y.append(float(r[0]))
            self.Y.append(r)

    # -- helpers -------------------------------------------------------------------------
    def _random(self, q: int, exclude: set[Arch]) -> list[Arch]:
        out: list[Arch] = []
        if self.candidates is not None:
            order = self.rng.permutation(len(self.candidates))
            for i in order:
                a = self.candidates[int(i)]
                if a not in exclude and a not in out:
                    out.append(a)
                    if len(out) == q:
                        break
            return out
        for _ in range(100 * q):
            (a,) = self.space.sample(1, self.rng)
            if a not in exclude and a not in out:
                out.append(a)
                if len(out) == q:
                    break
        return out

    def _fresh(self, a: Arch) -> bool:
        """Whether ``a`` may be proposed: not evaluated yet, and among the candidates where they are given."""
        return a not in self.seen and (self._candidate_set is None or a in self._candidate_set)


_STRATEGIES: Registry[type[Strategy]] = Registry("search strategy")


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    _STRATEGIES.add(cls.name, cls)
    return cls


def list_strategies(
    *, multi_objective: bool | None = None, takes_prior: bool | None = None, takes_generator: bool | None = None
) -> list[str]:
    """Registered names; ``multi_objective`` / ``takes_prior`` / ``takes_generator``: only those that do (or do not)."""
    wanted = {"multi_objective": multi_objective, "takes_prior": takes_prior, "takes_generator": takes_generator}
    return [
        n
        for n in _STRATEGIES.names()
        if all(v is None or getattr(_STRATEGIES.get(n), k) == v for k, v in wanted.items())
    ]


def strategy_class(name: str) -> type[Strategy]:
    """The registered class (unknown names raise :class:`UnknownNameError` listing the valid ones)."""
    return _STRATEGIES.get(name)


def get_strategy(name: str, **params: Any) -> Strategy:
    """A new strategy by registered name (unknown names raise listing the valid ones)."""
    try:
        return _STRATEGIES.get(name)(**params)
    except TypeError as e:
        raise SearchInputError(f"strategy {name!r}: {e}") from None


class RandomSearch(Strategy):
    name = "random"
    multi_objective = True  # it reads no value

    def ask(self, q: int) -> list[Arch]:
        return self._random(q, self.seen)


class RegularizedEvolution(Strategy):
    """Args: population (the last evaluated cells that compete), sample_size (tournament size)."""

    name = "re"

    def __init__(self, population: int = 50, sample_size: int = 25) -> None:
        if population < 2 or not 1 <= sample_size <= population:
            raise SearchInputError(
                f"need population >= 2 and 1 <= sample_size <= population, got {population}, {sample_size}"
            )
        self.population = population
        self.sample_size = sample_size

    def ask(self, q: int) -> list[Arch]:
        if len(self.archs) < self.population:
            return self._random(min(q, self.population - len(self.archs)), self.seen)
        pop = list(range(len(self.archs) - self.population, len(self.archs)))
        out: list[Arch] = []
        for _ in range(20 * q):
            if len(out) == q:
                break
            entrants = self.rng.choice(pop, self.sample_size, replace=False)
            y = np.array([self.y[i] for i in entrants])
            parent = self.archs[int(entrants[int(np.nanargmax(np.where(np.isfinite(y), y, -np.inf)))])]
            child = self.space.mutate(parent, self.rng)
            if child not in out and self._fresh(child):
                out.append(child)
        return out or self._random(q, self.seen)


class LocalSearch(Strategy):
    """Hill climbing over :meth:`SearchSpace.neighbors` with random restarts."""

    name = "ls"

    def setup(self, space: SearchSpace, rng: np.random.Generator, candidates: Sequence[Arch] | None = None) -> None:
        super().setup(space, rng, candidates)
        self.current: Arch | None = None
        self.current_value = -np.inf
        self.queue: list[Arch] = []

    def tell(self, archs: Sequence[Arch], values: Sequence[float] | np.ndarray) -> None:
        super().tell(archs, values)
        for a, v in zip(archs, values, strict=True):
            if self.current is None or (np.isfinite(v) and v > self.current_value):
                self.current, self.current_value = a, (v if np.isfinite(v) else -np.inf)
                self.queue = []  # moved: explore the new cell's neighbours

    def ask(self, q: int) -> list[Arch]:
        if self.current is None:
            return self._random(1, self.seen)  # a (re)start is evaluated on its own
        out: list[Arch] = []
        while len(out) < q:
            if not self.queue:
                nbrs = [b for b in self.space.neighbors(self.current) if b not in out and self._fresh(b)]
                if not nbrs:
                    if out:
                        break
                    self.current, self.current_value = None, -np.inf  # a local optimum: restart
                    return self._random(1, self.seen)
                self.queue = [nbrs[int(i)] for i in self.rng.permutation(len(nbrs))]
            a = self.queue.pop(0)
            if a not in self.seen and a not in out:
                out.append(a)
        return out


class Bananas(Strategy):
    """BANANAS (White et al., AAAI 2021): an ensemble of MLPs on the path encoding, independent Thompson
    sampling over mutations of the best cells.

    Args:
        n_init: Random cells before the first ensemble.
        ensemble: MLPs in the ensemble (each its own seed).
        pool_size: Candidates per batch: mutations of the ``incumbents`` best cells, topped up at random.
        incumbents: Best cells that are mutated.
        encoding: ``"path"`` (BANANAS's) where the space has it, else ``"onehot"``.
    """

    name = "bananas"

    def __init__(
        self, n_init: int = 10, ensemble: int = 5, pool_size: int = 200, incumbents: int = 10, encoding: str = "path"
    ) -> None:
        if n_init < 2 or ensemble < 2 or pool_size < 1 or incumbents < 1:
            raise SearchInputError("need n_init >= 2, ensemble >= 2, pool_size >= 1, incumbents >= 1")
        if encoding not in ("path", "onehot"):
            raise UnknownNameError("encoding", encoding, ("path", "onehot"))
        self.n_init, self.ensemble, self.pool_size, self.incumbents = n_init, ensemble, pool_size, incumbents
        self.encoding = encoding

    def setup(self, space: SearchSpace, rng: np.random.Generator, candidates: Sequence[Arch] | None = None) -> None:
        super().setup(space, rng, candidates)
        try:
            space.encode(space.sample(1, np.random.default_rng(0)), self.encoding)  # type: ignore[arg-type]
            self._kind = self.encoding
        except ValueError:
            self._kind = "onehot"

    def ask(self, q: int) -> list[Arch]:
        from sklearn.neural_network import MLPRegressor  # lazy: scikit-learn adds about 1 s; only BANANAS fits it

        y = np.array(self.y, dtype=float)
        ok = np.flatnonzero(np.isfinite(y))
        if len(ok) < self.n_init:
            return self._random(min(q, self.n_init - len(ok)) if len(ok) else q, self.seen)
        pool: dict[Arch, None] = {}
        for i in ok[np.argsort(-y[ok], kind="stable")][: self.incumbents]:
            for _ in range(max(1, self.pool_size // (2 * self.incumbents))):
                b = self.space.mutate(self.archs[int(i)], self.rng)
                if self._fresh(b):
                    pool[b] = None
        for a in self._random(max(0, self.pool_size - len(pool)), self.seen | set(pool)):
            pool[a] = None
        cands = list(pool)
        if len(cands) <= q:
            return cands
        X = self.space.encode([self.archs[i] for i in ok], self._kind)  # type: ignore[arg-type]
        mu, sd = y[ok].mean(), y[ok].std() + 1e-9
        C = self.space.encode(cands, self._kind)  # type: ignore[arg-type]

        from sklearn.exceptions import ConvergenceWarning  # lazy: as above

        preds = []
        for _ in range(self.ensemble):
            net = MLPRegressor(hidden_layer_sizes=(20, 20, 20), learning_rate_init=0.01, max_iter=200,
                               random_state=int(self.rng.integers(2**31 - 1)))  # fmt: skip
            with warnings.catch_warnings():  # 200 Adam iterations, as BANANAS trains: not always converged
                warnings.simplefilter("ignore", ConvergenceWarning)
                preds.append(net.fit(X, (y[ok] - mu) / sd).predict(C))
        p = np.array(preds)
        m, s = p.mean(axis=0), p.std(axis=0)
        score = self.rng.normal(m, s + 1e-9)  # independent Thompson sampling, one draw per candidate
        return [cands[int(i)] for i in np.argsort(-score, kind="stable")[:q]]


ACQUISITIONS = ("qlognei", "qucb", "ts")


class BayesianOptimization(Strategy):
    """GP-based BO over a discrete pool (see the module docstring).

    Args:
        acquisition: ``qlognei`` (q log noisy expected improvement), ``qucb`` or ``ts`` (Thompson sampling).
        n_init: Random cells evaluated before the first GP.
        pool_size: Candidates scored per batch: the neighbours of the ``incumbents`` best cells and random
            ones (from the enumerated space where given); the whole space if it has at most this many.
        incumbents: Best cells whose neighbours enter the pool.
        mc_samples: Quasi-Monte-Carlo samples of the acquisition.
        beta: qUCB's exploration weight.
        fit_iterations: Most L-BFGS iterations of a GP fit (each fit starts from the last one's
            hyperparameters).
        prior: Features that use no label of the task (:func:`archgen.search.priors.build_prior`):
            appended to the encoding, and the first ``n_init`` cells are drawn from the ``prior_top``
            cells its score ranks highest instead of the whole space; the pool also holds those cells.
        surrogate: ``"gp"`` (BoTorch's ``SingleTaskGP``) or a registered archgen predictor with uncertainty
            (``lgbm``, ``gnn``, ``stack``...), refitted on the search's evaluations every batch and used
            through :class:`~archgen.search.surrogates.PredictorModel`.
        surrogate_params: Parameters of that predictor (default ``zc="none"``: no table features).
        prior_top: Cells at the top of the prior's score the first cells are drawn from (at most
            ``n_init``: exactly its top ``n_init``). Default: 100 for a label-free prior (a weak
            ranking: the first cells are spread over its top), ``n_init`` for a transfer prior (other
            tasks' accuracies rank cells well: its top cells are evaluated first).
        generator: A fitted diffusion generator of the space (trained on its cells, no labels:
            :func:`archgen.services.generate.shared_generator`). Every ``generator_every`` evaluations its
            noise-aware surrogate is refitted on the search's own evaluations (``generator_epochs``) and
            ``generator_samples`` cells sampled along its gradient (scale ``generator_scale``, Euler,
            ``generator_steps`` steps; DiffusionNAG's guided generation) join the pool. The generator
            passed in is not changed (the strategy works on a copy).
    """

    name = "bo"
    takes_prior = True
    takes_generator = True

    def __init__(
        self,
        acquisition: str = "qlognei",
        n_init: int = 10,
        pool_size: int = 2000,
        incumbents: int = 10,
        mc_samples: int = 128,
        beta: float = 2.0,
        fit_iterations: int = 100,
        prior: Prior | None = None,
        prior_top: int | None = None,
        surrogate: str = "gp",
        surrogate_params: dict[str, Any] | None = None,
        generator: Generator | None = None,
        generator_samples: int = 100,
        generator_every: int = 16,
        generator_scale: float = 20.0,
        generator_epochs: int = 100,
        generator_steps: int = 20,
    ) -> None:
        if generator is not None:
            if not hasattr(generator, "fit_guidance") or not getattr(generator, "fitted_", False):
                raise SearchInputError(
                    "generator must be a fitted diffusion generator (it follows a surrogate's gradient)"
                )
            if min(generator_samples, generator_every, generator_epochs, generator_steps) < 1 or generator_scale < 0:
                raise SearchInputError(
                    "need generator_samples, generator_every, generator_epochs, generator_steps >= 1, generator_scale >= 0"
                )
        self.generator = generator
        self.generator_samples = generator_samples
        self.generator_every = generator_every
        self.generator_scale = generator_scale
        self.generator_epochs = generator_epochs
        self.generator_steps = generator_steps
        if acquisition not in ACQUISITIONS:
            raise UnknownNameError("acquisition function", acquisition, ACQUISITIONS)
        if surrogate != "gp":
            usable = ["gp", *(n for n in list_predictors() if predictor_class(n).capabilities.has_uncertainty)]
            if surrogate not in usable:
                raise UnknownNameError("surrogate with uncertainty", surrogate, usable)
            least = predictor_class(surrogate).capabilities.min_train
            if n_init < least:
                raise SearchInputError(f"n_init ({n_init}) is below what surrogate {surrogate!r} fits on ({least})")
        self.surrogate = surrogate
        self.surrogate_params = {"zc": "none", **(surrogate_params or {})} if surrogate != "gp" else {}
        if n_init < 2 or pool_size < 1 or incumbents < 0 or mc_samples < 1 or beta < 0:
            raise SearchInputError("need n_init >= 2, pool_size >= 1, incumbents >= 0, mc_samples >= 1, beta >= 0")
        self.acquisition = acquisition
        self.n_init = n_init
        self.pool_size = pool_size
        self.incumbents = incumbents
        self.mc_samples = mc_samples
        self.beta = beta
        self.fit_iterations = fit_iterations
        if prior_top is None:
            prior_top = n_init if prior is not None and prior.uses_labels else 100
        if prior_top < 1:
            raise SearchInputError(f"prior_top must be >= 1, got {prior_top}")
        self.prior = prior
        self.prior_top = prior_top

    def setup(self, space: SearchSpace, rng: np.random.Generator, candidates: Sequence[Arch] | None = None) -> None:
        super().setup(space, rng, candidates)
        self._warm: tuple[dict, dict] | None = None
        self._ranked: list[Arch] = []
        self._generated: list[Arch] = []
        self._generated_at = -1  # finite evaluations when the generator last sampled
        self._gen: Any = None
        if self.generator is not None:
            if getattr(self.generator, "space_", None) != space.name:
                raise SearchInputError(
                    f"the generator is of space {getattr(self.generator, 'space_', None)!r}, not {space.name!r}"
                )
            self._gen = self.generator.request_copy()  # type: ignore[attr-defined]
            self._gen.method, self._gen.steps, self._gen.pool = "euler", self.generator_steps, 4
        if self.prior is not None:
            if self.prior.space != space.name:
                raise SearchInputError(f"the prior is of space {self.prior.space!r}, not {space.name!r}")
            order = np.argsort(-self.prior.score, kind="stable")
            self._ranked = [
                a for a in (space.from_index(int(i)) for i in order[: 5 * self.prior_top]) if self._fresh(a)
            ]

    def _encode(self, archs: Sequence[Arch]) -> np.ndarray:
        x = self.space.encode(archs)
        if self.prior is None:
            return x
        return np.concatenate([x, self.prior.rows(self.space.indices(archs))], axis=1)

    def _initial(self, q: int) -> list[Arch]:
        """Cells before the first GP: random, or drawn from the top of the prior's score."""
        if self.prior is None:
            return self._random(q, self.seen)
        top = [a for a in self._ranked[: max(self.prior_top, self.n_init)] if a not in self.seen]
        if len(top) < q:
            return top + self._random(q - len(top), self.seen | set(top))
        return [top[int(i)] for i in self.rng.choice(len(top), q, replace=False)]

    def _pool(self) -> list[Arch]:
        if self.candidates is not None and len(self.candidates) <= self.pool_size:
            return [a for a in self.candidates if a not in self.seen]
        pool: dict[Arch, None] = {}
        y = np.array(self.y, dtype=float)
        for i in np.argsort(-np.where(np.isfinite(y), y, -np.inf), kind="stable")[: self.incumbents]:
            for b in self.space.neighbors(self.archs[int(i)]):
                if self._fresh(b):
                    pool[b] = None
        for a in self._guided():
            if self._fresh(a):
                pool[a] = None
        for a in self._ranked:
            if len(pool) >= self.pool_size // 2:
                break
            if a not in self.seen:
                pool[a] = None
        need = max(0, self.pool_size - len(pool))
        for a in self._random(need, self.seen | set(pool)):
            pool[a] = None
        return list(pool)

    def _guided(self) -> list[Arch]:
        """The generator's cells, sampled again along a surrogate of the evaluations every ``generator_every``."""
        if self._gen is None:
            return []
        y = np.array(self.y, dtype=float)
        ok = np.flatnonzero(np.isfinite(y))
        if len(ok) < 8 or (self._generated_at >= 0 and len(ok) - self._generated_at < self.generator_every):
            return self._generated

        archs = [self.archs[int(i)] for i in ok]
        self._gen.fit_guidance(archs, y[ok], epochs=self.generator_epochs, seed=int(self.rng.integers(2**31 - 1)))
        guide = Guidance(scale=self.generator_scale, score=lambda a: self._gen.guidance_mean(list(a)))
        self._generated = list(dict.fromkeys(self._gen.sample(self.generator_samples, rng=self.rng, guidance=guide)))
        self._generated_at = len(ok)
        return self._generated

    def ask(self, q: int) -> list[Arch]:
        finite = np.isfinite(np.array(self.y, dtype=float))
        if finite.sum() < self.n_init:
            return self._initial(min(q, self.n_init - int(finite.sum())) if finite.sum() else q)
        pool = self._pool()
        if len(pool) <= q:
            return pool
        return self._acquire(pool, q)

    def _fit(self, X: Any, Y: Any) -> Any:
        """A GP on ``X`` -> ``Y`` (one output per column), started from the last fit's hyperparameters."""
        model = SingleTaskGP(X, Y, outcome_transform=Standardize(m=Y.shape[-1]))
        if self._warm is not None:  # start from the last batch's hyperparameters: a few steps refit them
            model.covar_module.load_state_dict(self._warm[0])
            model.likelihood.load_state_dict(self._warm[1])
        fit_gpytorch_mll(
            ExactMarginalLogLikelihood(model.likelihood, model),
            optimizer_kwargs={"options": {"maxiter": self.fit_iterations}},
        )
        self._warm = (model.covar_module.state_dict(), model.likelihood.state_dict())
        return model

    def _predictor_model(self, archs: list[Arch], y: np.ndarray, pool: list[Arch], X: Any, C: Any, seed: int) -> Any:
        """The surrogate predictor fitted on the evaluations, as a BoTorch model over observed and pool rows."""
        params = dict(self.surrogate_params)
        if "random_state" in get_predictor(self.surrogate, **params).get_params():
            params.setdefault("random_state", seed)
        try:
            pred = get_predictor(self.surrogate, **params).fit(archs, y)
        except ArchgenError as e:
            raise SearchInputError(f"surrogate {self.surrogate!r}: {e}") from None
        return PredictorModel(pred, [*archs, *pool], torch.cat([X, C]))

    def _acquire(self, pool: list[Arch], q: int) -> list[Arch]:
        y = np.array(self.y, dtype=float)
        ok = np.flatnonzero(np.isfinite(y))
        X = torch.as_tensor(self._encode([self.archs[i] for i in ok]), dtype=torch.float64)
        Y = torch.as_tensor(y[ok], dtype=torch.float64).unsqueeze(-1)
        C = torch.as_tensor(self._encode(pool), dtype=torch.float64)
        seed = int(self.rng.integers(2**31 - 1))
        with torch.random.fork_rng():  # the fit's restarts draw from torch's global generator: keep it ours
            torch.manual_seed(seed)
            if self.surrogate == "gp":
                model = self._fit(X, Y)
            else:
                model = self._predictor_model([self.archs[i] for i in ok], y[ok], pool, X, C, seed)
            if self.acquisition == "ts":
                with torch.no_grad():
                    post = model.posterior(C)
                    draws = post.rsample(torch.Size([q])).squeeze(-1)  # [q, n]: one joint sample per pick
                picked: list[int] = []
                for d in draws:
                    order = torch.argsort(d, descending=True).tolist()
                    picked.append(next(i for i in order if i not in picked))
                return [pool[i] for i in picked]
            sampler = SobolQMCNormalSampler(torch.Size([self.mc_samples]), seed=seed)
            acq: qLogNoisyExpectedImprovement | qUpperConfidenceBound
            if self.acquisition == "qlognei":
                acq = qLogNoisyExpectedImprovement(model, X, sampler=sampler, prune_baseline=True)
            else:
                acq = qUpperConfidenceBound(model, self.beta, sampler=sampler)
            chosen, _ = optimize_acqf_discrete(acq, q, C, max_batch_size=2048, unique=True)
        return self._picked(pool, C, chosen)

    @staticmethod
    def _picked(pool: list[Arch], C: Any, chosen: Any) -> list[Arch]:
        """The pool's architectures whose encodings (rows of ``C``) ``optimize_acqf_discrete`` chose."""
        rows = {tuple(r.tolist()): i for i, r in enumerate(C)}
        return [pool[rows[tuple(r.tolist())]] for r in chosen]


__all__ = [
    "ACQUISITIONS",
    "BayesianOptimization",
    "LocalSearch",
    "RandomSearch",
    "RegularizedEvolution",
    "SearchInputError",
    "Strategy",
    "get_strategy",
    "list_strategies",
    "register_strategy",
    "strategy_class",
]
