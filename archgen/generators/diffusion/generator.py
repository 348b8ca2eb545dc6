"""The score-based graph diffusion generator (DiffusionNAG-style) behind the :class:`Generator` interface.

Training (no labels): denoising score matching on the dense node-type matrices
of the training architectures. For ``x_0`` a training matrix, ``t ~ U(t_eps, 1)``
and ``z ~ N(0, I)`` on the space's free entries, ``x_t = mean(x_0, t) + std(t) z``
(:mod:`~archgen.generators.diffusion.sde`), and the network ``eps(x_t, t)``
minimises ``|eps(x_t, t) - z|^2`` over the free entries; then
``score(x, t) = -eps(x, t) / std(t)``.

Sampling: :func:`~archgen.generators.diffusion.sampling.sample` from the prior,
then each operation node is read at threshold 0.5 as DiffusionNAG does: a node
with exactly one entry above 0.5 takes that operation; a node with none or
several makes the sample **invalid**, which is counted (``last_stats_``) and never
repaired into some other architecture.

Guidance: after :meth:`DiffusionGenerator.fit_guidance` (labelled
architectures: table values or any predictor's predictions), sampling follows
``score + scale * grad_x y_hat(x_t, t)`` of the noise-aware surrogate
(:mod:`~archgen.generators.diffusion.guidance`), ``scale`` being
``Guidance.scale``. With a guidance score or predictor too, ``pool`` candidates
are generated per requested sample and the best by it are kept (DiffusionNAG
ranks its generated set by an unnoised predictor the same way); constraints
reject.

Where the space's dense form has free adjacency entries (NB101's 7-node DAG,
upper triangle), the adjacency is diffused with the operations: the state is
``[x | adj]`` (:class:`~archgen.generators.diffusion.layout.Layout`), the
network reads the noised adjacency as node features and soft attention
relations and predicts each clean entry (an x0-prediction, trained by
cross-entropy and turned into noise for the sampler), samples are read at 0.5
and whatever the space refuses (no input-output path, more than 9 edges,
padding in the middle) is invalid. Entries the space derives from the others
(:meth:`~archgen.spaces.base.SearchSpace.dense_derived`: NAS-Bench-Graph's edges
into the output node) are not modelled; the space rebuilds them when a sample is
read (:meth:`~archgen.spaces.base.SearchSpace.read_dense`), so a NAS-Bench-Graph
sample is each op node's input (one entry of its adjacency column) and operation.

Validity guidance (discriminator guidance, Kim et al., ICML 2023, on the
sampler's own output): where a space's rules are global (NB101: at most 9 edges
on input-output paths, the output reachable), entries denoised one by one break
them in about 15% of samples. :meth:`DiffusionGenerator.fit_validity` draws
unguided samples, labels each invalid (1) or valid (0), and trains a noise-aware
surrogate of invalidity on them (:data:`VALIDITY`); sampling then follows the
gradient of a soft penalty on it (``validity_scale``), like a constraint's. A
sample is still read by the space's rules: nothing is repaired, and what stays
invalid is counted.

Where every training architecture is its space's canonical form (NAS-Bench-Graph's
table holds one row per class), samples are read as canonical forms too: a
sample equivalent to a training cell is that cell, so uniqueness and novelty
count classes, as the benchmark does.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np
import torch

from archgen.arch import Arch
from archgen.artifacts import ArtifactState
from archgen.errors import InvalidArchitectureError, NotFittedError
from archgen.generators.base import Generator, GeneratorCapabilities, GeneratorInputError, Guidance
from archgen.generators.diffusion.guidance import FittedSurrogate, NoiseAwareSurrogate, fit_surrogate, guidance_gradient
from archgen.generators.diffusion.layout import Layout
from archgen.generators.diffusion.sampling import sample
from archgen.generators.diffusion.score_net import GraphScoreNet
from archgen.generators.diffusion.sde import make_sde
from archgen.rng import init_parameters_, torch_generator
from archgen.spaces import get_space

T_EPS = 1e-3
#: Name of the surrogate whose prediction guidance raises (others are bounded quantities).
OBJECTIVE = "objective"
#: Name of the surrogate of invalidity (:meth:`DiffusionGenerator.fit_validity`), kept at 0 while sampling.
VALIDITY = "invalid"
#: Fewest invalid samples among the probe's for :meth:`DiffusionGenerator.fit_validity` to fit a surrogate.
MIN_INVALID = 50


#: Seconds between progress reports inside a training epoch.
PROGRESS_EVERY_S = 2.0


class DiffusionGenerator(Generator):
    """Score-based diffusion over op-on-node DAGs.

    Args:
        sde: ``"ve"`` (sigma 0.1..5, DiffusionNAG's) or ``"vp"``.
        dim, depth, heads: Score network size.
        epochs, batch_size, lr: Training.
        steps: Sampling time steps; ``method``: ``"pc"``, ``"euler"`` or ``"ode"``.
        snr: Corrector signal-to-noise ratio.
        pool: Candidates per sample when a guidance score ranks them.
        max_rounds: Most sampling rounds per call before too few valid (or
            constraint-meeting) samples is an error.
        batch: Samples generated at once.
        seed: Seed of the weights and of the training noise.
        validity_samples: After training, unguided samples drawn to fit the
            validity surrogate (:meth:`fit_validity`; 0: none). The service's
            generators use 3,000.
        validity_scale: Strength of the validity surrogate's gradient while sampling.
    """

    name: ClassVar[str] = "diffusion"
    capabilities: ClassVar[GeneratorCapabilities] = GeneratorCapabilities(
        spaces=("nb201", "nb101", "nasbench_graph"), min_train=16
    )
    paper: ClassVar[str] = (
        "An et al., DiffusionNAG: Predictor-guided Neural Architecture Generation with Diffusion Models, ICLR 2024; "
        "Song et al., Score-Based Generative Modeling through Stochastic Differential Equations, ICLR 2021"
    )

    #: ``on_progress(fraction, message)``, called as :meth:`fit` and :meth:`sample` move (jobs set it; it may
    #: raise to stop them); not a parameter.
    on_progress: Callable[[float, str], None] | None = None

    def __init__(
        self,
        sde: str = "ve",
        dim: int = 64,
        depth: int = 3,
        heads: int = 4,
        epochs: int = 200,
        batch_size: int = 256,
        lr: float = 1e-3,
        steps: int = 200,
        method: str = "pc",
        snr: float = 0.16,
        pool: int = 8,
        max_rounds: int = 50,
        batch: int = 1024,
        seed: int = 0,
        validity_samples: int = 0,
        validity_scale: float = 30.0,
    ) -> None:
        self.sde = sde
        self.dim = dim
        self.depth = depth
        self.heads = heads
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.steps = steps
        self.method = method
        self.snr = snr
        self.pool = pool
        self.max_rounds = max_rounds
        self.batch = batch
        self.seed = seed
        self.validity_samples = validity_samples
        self.validity_scale = validity_scale

    # -- training ----------------------------------------------------------------
    def _check_params(self) -> None:
        try:
            make_sde(self.sde)
        except ValueError as e:
            raise GeneratorInputError(str(e)) from None
        if self.method not in ("pc", "euler", "ode"):
            raise GeneratorInputError(f"method must be pc, euler or ode, got {self.method!r}")
        for k in ("dim", "depth", "heads", "epochs", "batch_size", "steps", "pool", "max_rounds", "batch"):
            if not isinstance(getattr(self, k), int) or getattr(self, k) < 1:
                raise GeneratorInputError(f"{k} must be an integer >= 1, got {getattr(self, k)!r}")
        if not isinstance(self.validity_samples, int) or self.validity_samples < 0:
            raise GeneratorInputError(f"validity_samples must be an integer >= 0, got {self.validity_samples!r}")
        if not 0 <= float(self.validity_scale) <= 1000:
            raise GeneratorInputError(f"validity_scale must be in [0, 1000], got {self.validity_scale!r}")
        if self.dim % self.heads or self.dim % 2:
            raise GeneratorInputError(f"dim ({self.dim}) must be even and divisible by heads ({self.heads})")

    def _setup(self, archs: list[Arch]) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Everything :meth:`_fit` derives from ``archs`` alone (layout, masks, fixed entries, the seen cells):
        the packed training states, the packed mask and whether the adjacency is diffused. No randomness."""
        self._check_params()
        space = get_space(archs[0].space)
        self.derived_ = space.dense_derived()
        adj, x = self._dense(space, archs)
        adj_mask, x_mask = space.dense_mask()
        adj_mask = adj_mask & ~self.derived_
        diffuse = bool(adj_mask.any())
        layout = Layout(x.shape[2], None if diffuse else adj[0])
        data = layout.pack(x, adj)
        mask = layout.pack(x_mask, adj_mask)
        self.layout_ = layout
        self.adj_ = adj[0] if not diffuse else torch.zeros_like(adj[0])
        self.x_mask_, self.adj_mask_ = x_mask, adj_mask
        self.mask_ = mask
        self.pads_ = bool((x.sum(dim=-1) == 0).any())  # the space pads its dense form with empty rows (NB101)
        self.fixed_ = data[0] * (1 - mask.to(x.dtype))
        self.seen_ = set(archs)
        self.canonical_ = all(space.canonical(a) == a for a in archs)
        self.surrogates_: dict[str, FittedSurrogate] = {}
        return data, mask, diffuse

    def prepare(self, archs: list[Arch]) -> DiffusionGenerator:
        """Set up the layout of ``archs``' space without training (returns ``self``).

        Enough for :meth:`fit_guidance`: a guidance surrogate depends on the
        layout, the mask and the widths, never on the score network's weights,
        so surrogates fitted on a prepared generator serve one that :meth:`fit`
        trains on the same cells, and can be fitted while it trains. A prepared
        generator does not sample.
        """
        if not archs:
            raise GeneratorInputError("prepare needs at least one architecture")
        self._setup(list(archs))
        self.space_ = get_space(archs[0].space).name
        self.prepared_ = True
        return self

    def _fit(self, archs: list[Arch]) -> None:
        data, mask, diffuse = self._setup(archs)
        gen = torch_generator(self.seed)
        nodes, types = self.x_mask_.shape[-2:]
        net = GraphScoreNet(nodes, types, self.dim, self.depth, self.heads, gen, adj_in=diffuse, edge_head=diffuse)
        init_parameters_(net, gen)
        self.net_ = net
        sde = make_sde(self.sde)
        m = mask.to(data.dtype)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs)
        losses = []
        net.train()
        batches = -(-len(data) // self.batch_size)
        last_report = time.monotonic()
        for epoch in range(self.epochs):
            order = torch.randperm(len(data), generator=gen)
            total = 0.0
            for k, i in enumerate(range(0, len(data), self.batch_size)):
                x0 = data[order[i : i + self.batch_size]]
                b = len(x0)
                t = torch.rand(b, generator=gen) * (1 - T_EPS) + T_EPS
                xt, z, std = sde.perturb(x0, t, m, gen)
                loss = self._loss(xt, z, x0, std, m)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * b
                if self.on_progress is not None and time.monotonic() - last_report >= PROGRESS_EVERY_S:
                    # within the epoch too: on a loaded machine an epoch takes tens of seconds, and a job's
                    # cancel request is acted on at its next report
                    last_report = time.monotonic()
                    done = (epoch + (k + 1) / batches) / self.epochs
                    self.on_progress(done, f"training epoch {epoch + 1}/{self.epochs}, batch {k + 1}/{batches}")
            sched.step()
            losses.append(total / len(data))
            if self.on_progress is not None:
                last_report = time.monotonic()
                self.on_progress((len(losses)) / self.epochs, f"training epoch {len(losses)}/{self.epochs}")
        net.eval()
        self.train_loss_ = losses

    def _dense(self, space, archs: list[Arch]) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense forms of ``archs`` with the space's derived entries zeroed (they are not modelled)."""
        adj, x = space.to_dense_batch(archs)
        return (adj * ~self.derived_ if self.derived_.any() else adj), x

    def fit(self, archs):  # type: ignore[override]
        """Train on ``archs`` (no labels), then fit the validity surrogate when ``validity_samples`` > 0 and the
        adjacency is learned (NB101). With a fixed DAG (NB201) only an operation row can be
        ambiguous, and a trained generator's samples were all valid (BENCHMARKS.md: 3,000 of 3,000), so the probe,
        a minute or two on a CPU, is skipped there."""
        report = self.on_progress
        probe = self.validity_samples > 0 and self._learns_adjacency(archs)
        if probe and report is not None:  # training 0-0.9, the validity probe 0.9-1
            self.on_progress = lambda f, m: report(0.9 * f, m)
        try:
            super().fit(archs)
            if probe:
                if report is not None:
                    self.on_progress = lambda f, m: report(0.9 + 0.1 * f, m)
                self.fit_validity(self.validity_samples)
        finally:
            self.on_progress = report
        return self

    def _learns_adjacency(self, archs: list[Arch]) -> bool:
        """Whether the adjacency of ``archs``' space is diffused (any free entry), as :meth:`_fit` decides."""
        if not archs:
            return False
        space = get_space(archs[0].space)
        adj_mask, _ = space.dense_mask()
        return bool((adj_mask & ~space.dense_derived()).any())

    def fit_validity(self, samples: int = 3000, *, epochs: int = 60, seed: int | None = None) -> DiffusionGenerator:
        """Fit the noise-aware surrogate of invalidity on ``samples`` of the model's own unguided samples.

        Each sample is read as :meth:`read_sample` reads it; the surrogate learns
        1 for an invalid one, 0 for a valid one, from noised copies of the
        thresholded states. Where fewer than :data:`MIN_INVALID` of them are
        invalid (NB201, NAS-Bench-Graph), there is nothing to learn and no
        surrogate is kept. Returns ``self``; ``validity_probe_`` holds the share
        of invalid samples found.

        Raises:
            NotFittedError: before :meth:`fit`.
        """
        if not getattr(self, "fitted_", False):
            raise NotFittedError(type(self).__name__)
        seed = self.seed + 2 if seed is None else seed
        gen = torch_generator(seed)
        states, bad = [], []
        for i in range(0, samples, self.batch):
            if self.on_progress is not None:
                self.on_progress(i / samples, f"validity probe: {i}/{samples} samples")
            archs, z = self.generate(min(self.batch, samples - i), gen, use_validity=False)
            states.append(self._threshold(z))
            bad += [0.0 if a is not None else 1.0 for a in archs]
        y = torch.tensor(bad)
        self.validity_probe_ = float(y.mean())
        self.surrogates_.pop(VALIDITY, None)
        if y.sum() >= MIN_INVALID:
            self.surrogates_[VALIDITY] = fit_surrogate(
                make_sde(self.sde), torch.cat(states), self.mask_, self.layout_, y,
                dim=self.dim, depth=max(1, self.depth - 1), heads=self.heads, epochs=epochs, batch_size=256, seed=seed,
            )  # fmt: skip
        return self

    def _loss(
        self, zt: torch.Tensor, noise: torch.Tensor, z0: torch.Tensor, std: torch.Tensor, m: torch.Tensor
    ) -> torch.Tensor:
        """Denoising score matching: noise MSE over the free entries; over free adjacency entries, cross-entropy of
        the clean-entry prediction (the noise MSE of an x0-prediction weighs small noise by ``1/std^2`` and swamps
        the rest)."""
        b = len(zt)
        out = self.net_(*self.layout_.split(zt), torch.log(std))
        if not isinstance(out, tuple):
            return (((out - noise) * m) ** 2).sum() / (m.sum() * b)
        t = self.layout_.types
        eps_x, logit = out
        mx, ma = m[..., :t], m[..., t:]
        loss_x = (((eps_x - noise[..., :t]) * mx) ** 2).sum() / (mx.sum() * b)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, z0[..., t:], reduction="none")
        return loss_x + (bce * ma).sum() / (ma.sum() * b)

    def _eps(self, z: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
        """The score network's noise prediction for states ``z`` (both parts where the adjacency is diffused).

        The adjacency part comes from the network's clean-entry prediction
        ``a0 = sigmoid(logit)``: ``eps = (a_t - c(t) a0) / std(t)``, with ``c`` the
        SDE's mean factor.
        """
        out = self.net_(*self.layout_.split(z), log_std)
        if not isinstance(out, tuple):
            return out
        eps_x, logit = out
        std = torch.exp(log_std)[:, None, None]
        a_t = z[..., self.layout_.types :]
        eps_a = (a_t - make_sde(self.sde).mean_coef(std) * torch.sigmoid(logit)) / std
        return torch.cat([eps_x, eps_a], dim=-1)

    def fit_guidance(
        self,
        archs: list[Arch],
        y: np.ndarray,
        *,
        epochs: int = 300,
        seed: int | None = None,
        name: str = OBJECTIVE,
        batch_size: int = 128,
        should_stop: Callable[[], bool] | None = None,
    ) -> DiffusionGenerator:
        """Train a noise-aware surrogate on labelled architectures of the fitted (or prepared) space (returns
        ``self``). ``should_stop`` is asked after every epoch; when it says so, the fit raises
        :class:`~archgen.generators.diffusion.guidance.FitStopped` and nothing is kept.

        ``name`` :data:`OBJECTIVE` (the default) is the quantity guidance raises
        (``Guidance.scale``); any other name is a quantity an upper bound can be
        put on at sampling time (``Guidance.bounds``, e.g. ``{"params": 0.5}``):
        parameters, FLOPs, a device's latency. Fitting a name again replaces it.

        Raises:
            NotFittedError: before :meth:`fit` or :meth:`prepare`.
            GeneratorInputError: mismatched lengths, fewer than 8 cells, non-finite labels.
        """
        if not (getattr(self, "fitted_", False) or getattr(self, "prepared_", False)):
            raise NotFittedError(type(self).__name__)
        y_arr = np.asarray(y, dtype=np.float64).ravel()
        if len(archs) != len(y_arr) or len(archs) < 8:
            raise GeneratorInputError(
                f"need at least 8 labelled architectures with one label each, got {len(archs)} and {len(y_arr)}"
            )
        if not np.isfinite(y_arr).all():
            raise GeneratorInputError("guidance labels must be finite")
        space = get_space(self.space_)
        adj, x = self._dense(space, archs)
        self.surrogates_[name] = fit_surrogate(
            make_sde(self.sde),
            self.layout_.pack(x, adj),
            self.mask_,
            self.layout_,
            torch.as_tensor(y_arr, dtype=torch.float32),
            dim=self.dim,
            depth=max(1, self.depth - 1),
            heads=self.heads,
            epochs=epochs,
            batch_size=batch_size,
            seed=self.seed + 1 if seed is None else seed,
            should_stop=should_stop,
        )
        return self

    def guidance_mean(self, archs: list[Arch], batch: int = 2048, name: str = OBJECTIVE) -> np.ndarray:
        """Surrogate ``name``'s prediction for clean architectures (at the smallest noise level), in label units.

        Raises:
            NotFittedError: before :meth:`fit_guidance` for ``name``.
        """
        sur = self._surrogate(name)
        space = get_space(self.space_)
        _, std = make_sde(self.sde).marginal(torch.zeros(1, 1, 1), torch.tensor([T_EPS]))
        out = []
        for i in range(0, len(archs), batch):
            adj, x = self._dense(space, archs[i : i + batch])
            with torch.no_grad():
                out.append(sur.predict(self.layout_.pack(x, adj), torch.log(std).expand(len(x))).numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def _surrogate(self, name: str) -> FittedSurrogate:
        sur = getattr(self, "surrogates_", {}).get(name)
        if sur is None:
            raise NotFittedError(
                f"{type(self).__name__} surrogate {name!r} (call fit_guidance(..., name={name!r}) first)"
            )
        return sur

    def request_copy(self) -> DiffusionGenerator:
        """A copy sharing the trained score network (and validity surrogate) with its own guidance surrogates and
        sampling settings: fitting guidance or changing ``steps``/``method`` on it leaves this generator as it is
        (one loaded generator serves concurrent requests and searches)."""
        out = copy.copy(self)
        out.surrogates_ = {k: v for k, v in getattr(self, "surrogates_", {}).items() if k == VALIDITY}
        return out

    # -- persistence --------------------------------------------------------------
    def get_state(self) -> ArtifactState:
        """Weights of the score network (and of the surrogate when fitted), the DAG, mask and fixed entries."""
        if not getattr(self, "fitted_", False):
            raise NotFittedError(type(self).__name__)
        arrays = {f"net.{k}": v.detach().numpy() for k, v in self.net_.state_dict().items()}
        arrays |= {
            "adj": self.adj_.numpy(),
            "x_mask": self.x_mask_.numpy().astype(np.uint8),
            "adj_mask": self.adj_mask_.numpy().astype(np.uint8),
            "derived": self.derived_.numpy().astype(np.uint8),
            "fixed": self.fixed_.numpy(),
        }
        surrogates = {}
        for name, sur in self.surrogates_.items():
            arrays |= {f"surrogate.{name}.{k}": v.detach().numpy() for k, v in sur.net.state_dict().items()}
            surrogates[name] = [sur.mu, sur.sd]
        meta: dict[str, object] = {
            "train_loss": list(self.train_loss_),
            "shape": list(self.fixed_.shape),
            "types": self.layout_.types,
            "diffuse_adj": self.layout_.diffuses_adjacency,
            "pads": self.pads_,
            "canonical": self.canonical_,
            "validity_probe": getattr(self, "validity_probe_", None),
            "surrogates": surrogates,
        }
        space = get_space(self.space_)
        return ArtifactState(
            meta=meta, arrays=arrays, texts={"seen": "\n".join(sorted(space.format(a) for a in self.seen_))}
        )

    def set_state(self, state: ArtifactState) -> None:
        n, width = (int(v) for v in state.meta["shape"])  # type: ignore[union-attr]
        t = int(state.meta.get("types", width))  # type: ignore[call-overload]
        diffuse = bool(state.meta.get("diffuse_adj", False))
        gen = torch_generator(0)  # shapes only: every weight is loaded below
        net = GraphScoreNet(n, t, self.dim, self.depth, self.heads, gen, adj_in=diffuse, edge_head=diffuse)
        net.load_state_dict({k[4:]: torch.as_tensor(v) for k, v in state.arrays.items() if k.startswith("net.")})
        self.net_ = net.eval()
        self.adj_ = torch.as_tensor(state.arrays["adj"])
        self.x_mask_ = torch.as_tensor(state.arrays["x_mask"]).bool()
        self.adj_mask_ = (
            torch.as_tensor(state.arrays["adj_mask"]).bool()
            if "adj_mask" in state.arrays
            else torch.zeros(n, n, dtype=torch.bool)
        )
        self.derived_ = (
            torch.as_tensor(state.arrays["derived"]).bool()
            if "derived" in state.arrays
            else torch.zeros(n, n, dtype=torch.bool)
        )
        self.canonical_ = bool(state.meta.get("canonical", False))
        if state.meta.get("validity_probe") is not None:
            self.validity_probe_ = float(state.meta["validity_probe"])  # type: ignore[arg-type]
        self.layout_ = Layout(t, None if diffuse else self.adj_)
        self.mask_ = self.layout_.pack(self.x_mask_, self.adj_mask_)
        self.pads_ = bool(state.meta.get("pads", False))
        self.fixed_ = torch.as_tensor(state.arrays["fixed"])
        self.train_loss_ = list(state.meta["train_loss"])  # type: ignore[call-overload]
        self.surrogates_ = {}
        for name, (mu, sd) in dict(state.meta.get("surrogates", {})).items():  # type: ignore[call-overload]
            prefix = f"surrogate.{name}."
            weights = {k[len(prefix) :]: v for k, v in state.arrays.items() if k.startswith(prefix)}
            self._install_surrogate(name, weights, float(mu), float(sd))
        self.seen_ = set()  # re-read lazily by callers that need it (texts["seen"])
        self.seen_text_ = state.texts.get("seen", "")

    def surrogate_weights(self, name: str) -> tuple[dict[str, np.ndarray], float, float]:
        """The fitted surrogate ``name``'s weights, and the mean and std its labels were standardised with
        (what :meth:`set_surrogate` takes back: a surrogate fitted once can be kept outside the generator)."""
        sur = self.surrogates_[name]
        return {k: v.detach().numpy() for k, v in sur.net.state_dict().items()}, sur.mu, sur.sd

    def set_surrogate(self, name: str, weights: dict[str, np.ndarray], mu: float, sd: float) -> None:
        """Install a surrogate from :meth:`surrogate_weights` of a generator of the same space and shape.

        A prepared generator (:meth:`prepare`) takes one too, as it can fit one: a surrogate depends on the layout,
        not on the score network's weights (a prepared generator never samples).

        Raises:
            NotFittedError: before :meth:`fit`, :meth:`prepare` (or a load).
            GeneratorInputError: weights of another shape.
        """
        if not (getattr(self, "fitted_", False) or getattr(self, "prepared_", False)):
            raise NotFittedError(type(self).__name__)
        self._install_surrogate(name, weights, mu, sd)

    def _install_surrogate(self, name: str, weights: Mapping[str, np.ndarray], mu: float, sd: float) -> None:
        n = int(self.fixed_.shape[0])
        net = NoiseAwareSurrogate(
            n, self.layout_.types, self.dim, max(1, self.depth - 1), self.heads, torch_generator(0),
            adj_in=self.layout_.diffuses_adjacency,
        )  # fmt: skip
        try:
            net.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
        except RuntimeError as e:
            raise GeneratorInputError(f"surrogate {name!r} does not fit this generator: {e}") from None
        self.surrogates_[name] = FittedSurrogate(net.eval(), float(mu), float(sd), self.layout_)

    # -- sampling ----------------------------------------------------------------
    def score_fn(
        self,
        scale: float = 0.0,
        bounds: Mapping[str, float] | None = None,
        bound_scale: float = 10.0,
        use_validity: bool = True,
    ):
        """``score(x, t)`` of the fitted model plus the guidance gradient.

        The gradient (:func:`~archgen.generators.diffusion.guidance.guidance_gradient`)
        raises the objective surrogate at ``scale`` (when one is fitted) and keeps
        each surrogate named in ``bounds`` under its value at ``bound_scale``;
        with ``use_validity`` and a validity surrogate (:meth:`fit_validity`), it
        also keeps predicted invalidity at 0 at ``validity_scale``.

        Raises:
            NotFittedError: a bound on a quantity without a fitted surrogate.
        """
        sde = make_sde(self.sde)
        objective = self.surrogates_.get(OBJECTIVE) if scale > 0 else None
        kept = [(self._surrogate(k), float(v), float(bound_scale)) for k, v in (bounds or {}).items()]
        if bound_scale <= 0:
            kept = []
        validity = self.surrogates_.get(VALIDITY) if use_validity and self.validity_scale > 0 else None
        if validity is not None:
            kept.append((validity, 0.0, float(self.validity_scale)))
        guide = guidance_gradient(sde, objective, scale, kept) if objective is not None or kept else None

        def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            _, std = sde.marginal(torch.zeros(len(t), 1, 1), t)
            with torch.no_grad():
                eps = self._eps(x, torch.log(std))
            s = -eps / std[:, None, None]
            if guide is not None:
                s = s + guide(x, t)
            return s

        return score

    def generate(
        self,
        k: int,
        generator: torch.Generator,
        scale: float = 0.0,
        bounds: Mapping[str, float] | None = None,
        bound_scale: float = 10.0,
        on_step: Callable[[int], None] | None = None,
        use_validity: bool = True,
    ) -> tuple[list[Arch | None], torch.Tensor]:
        """``k`` raw samples, guided (:meth:`score_fn`): an :class:`Arch` each, or ``None`` where invalid.

        ``on_step(step)`` is called after each sampling step.
        """
        space = get_space(self.space_)
        fixed = self.fixed_.expand(k, -1, -1).clone()
        x = sample(
            make_sde(self.sde),
            self.score_fn(scale, bounds, bound_scale, use_validity),
            fixed,
            self.mask_,
            steps=self.steps,
            generator=generator,
            method=self.method,
            snr=self.snr,
            t_eps=T_EPS,
            on_step=on_step,
        )
        return [self._decode(space, xi) for xi in x], x

    def _decode(self, space, z: torch.Tensor) -> Arch | None:
        """The architecture a sample reads as, or ``None`` where it is invalid (see :meth:`read_sample`)."""
        read = self.read_sample(space, z)
        return read if isinstance(read, Arch) else None

    def _threshold(self, z: torch.Tensor) -> torch.Tensor:
        """States ``z`` (one or a batch) with each free entry read as 1 above 0.5, else 0 (DiffusionNAG's reading)."""
        m = self.mask_.to(z.dtype)
        return z * (1 - m) + (z > 0.5).to(z.dtype) * m

    def read_sample(self, space, z: torch.Tensor) -> Arch | str:
        """Threshold at 0.5 (DiffusionNAG), then the space's own reading of the dense form: the :class:`Arch`, or
        why the sample is invalid.

        Each free node row needs exactly one free entry above 0.5; where the
        space pads its dense form (NB101) a row with none is padding, which
        the space accepts only after the last node and without edges. Free
        adjacency entries (NB101) are edges where above 0.5. What the space
        refuses (e.g. no input-output path, too many edges) is invalid; a
        sample is never repaired into another architecture.
        """
        x, adj = self.layout_.split(self._threshold(z)[None])
        x, adj = x[0], adj[0]
        rows = self.x_mask_.any(dim=1)
        counts = x[rows].sum(dim=1)
        if not torch.all((counts == 1) | ((counts == 0) & self.pads_)):
            return "a node row without exactly one operation"
        try:
            arch = space.read_dense(adj, x)
            space.validate(arch)
        except InvalidArchitectureError as e:
            return str(e).split(": ", 1)[-1]
        return space.canonical(arch) if self.canonical_ else arch

    def _sample(self, n: int, rng: np.random.Generator, guidance: Guidance | None) -> list[Arch]:
        gen = torch_generator(int(rng.integers(2**63 - 1)))
        scoring = guidance is not None and guidance.scale > 0 and (guidance.score or guidance.predictor) is not None
        want = n * (self.pool if scoring else 1)
        got: list[Arch] = []
        drawn = valid = 0
        for _ in range(self.max_rounds):
            if len(got) >= want:
                break
            rate = max(len(got) / drawn, 0.02) if drawn else 1.0  # share of draws kept so far
            k = min(self.batch, max(16, int(np.ceil(1.2 * (want - len(got)) / rate))))
            report = None
            if self.on_progress is not None:

                def report(
                    step: int, done: int = len(got), k: int = k, rate: float = rate, cb=self.on_progress
                ) -> None:
                    f = min(0.99, (done + rate * k * (step + 1) / self.steps) / want)
                    cb(f, f"{done} of {want} samples kept; round at step {step + 1}/{self.steps}")

            if guidance is None:
                archs, _ = self.generate(k, gen, on_step=report)
            else:
                archs, _ = self.generate(k, gen, guidance.scale, guidance.bounds, guidance.bound_scale, on_step=report)
            drawn += len(archs)
            ok = [a for a in archs if a is not None]
            valid += len(ok)
            if guidance is not None and ok:
                allowed = guidance.allowed(ok)
                ok = [a for a, keep in zip(ok, allowed, strict=True) if keep]
            got.extend(ok)
        self.last_stats_ = {"drawn": drawn, "valid": valid, "met": len(got)}
        if len(got) < want:
            raise GeneratorInputError(
                f"only {len(got)} of {want} samples were valid and met the constraint after {drawn} draws "
                f"({self.max_rounds} rounds); relax the constraint or raise max_rounds"
            )
        got = got[:want]
        if self.on_progress is not None:  # the last message says what the rounds kept, not a round's start
            self.on_progress(1.0, f"{want} of {want} samples kept ({drawn} drawn, {valid} valid)")
        if not scoring:
            return got
        assert guidance is not None
        scores = guidance.scores(got)
        assert scores is not None
        best: list[Arch] = []
        seen: set[Arch] = set()
        for i in np.argsort(-scores, kind="stable"):
            if got[i] not in seen:
                seen.add(got[i])
                best.append(got[i])
            if len(best) == n:
                break
        k = 0
        while len(best) < n:  # fewer distinct candidates than n: repeat the best ones
            best.append(best[k % len(best)])
            k += 1
        return best
