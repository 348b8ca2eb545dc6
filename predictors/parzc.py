"""ParZC-style parametric zero-cost proxy.

Dong et al., "ParZC: Parametric Zero-Cost Proxies for Efficient NAS",
AAAI 2025 (arXiv:2402.02105). Zero-cost proxies sum per-layer (node-wise)
statistics with equal weight, although layers contribute unequally to the
final accuracy. ParZC instead feeds the per-layer statistics, as a sequence of
tokens, to a small learned model:

* **Tokens**: one per convolution / linear layer of the network built from the
  cell (in module order), holding that layer's ``snip``, ``grad_norm``,
  ``fisher``, ``plain``, ``synflow``, ``l2_norm`` and ``params`` computed on a
  real CIFAR-10 mini-batch (:mod:`archgen.predictors.zerocost`), signed-log and
  standardised; sequences are zero-padded to a fixed length with a mask.
  (The paper also uses ``grasp``; its double backward is the most expensive
  statistic on a CPU, so it is off by default and can be added with ``stats``.)
* **Mixer with Bayesian layers** (the paper's MABN): MLP-Mixer blocks
  (Tolstikhin et al., NeurIPS 2021) whose linear layers are Bayes-by-Backprop
  layers (Blundell et al., ICML 2015): Gaussian weights trained with the
  reparameterisation trick and a KL penalty. Sampling the weights gives a
  predictive distribution; its spread is the uncertainty.
* **DiffKendall loss** (the paper's differentiable Kendall tau): the Kendall
  tau of predictions and targets with ``sign`` replaced by ``tanh(alpha * .)``,
  maximised directly.

The network outputs a ranking score; a linear map fitted on the training set
puts it on the target's scale, and the std (spread of ``mc_samples`` weight
draws, mapped the same way) is scaled to cover 68.3% of the residuals of a
held-out slice, which also early-stops training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from archgen.arch import Arch
from archgen.predictors.base import (
    Capabilities,
    FitMonitor,
    Predictor,
    PredictorState,
)
from archgen.predictors.features import require_data
from archgen.predictors.hyperparams import PROXY_NET, Param
from archgen.predictors.metrics import coverage_scale, kendall_tau
from archgen.predictors.splits import random_split
from archgen.predictors.zerocost import LAYER_STATS, ZCSettings, score_archs
from archgen.rng import init_parameters_, torch_generator

DEFAULT_STATS = ("snip", "grad_norm", "fisher", "plain", "synflow", "l2_norm", "params")


class BayesLinear(nn.Module):
    """Linear layer with a factorised Gaussian posterior over weights (Bayes by Backprop)."""

    def __init__(self, n_in: int, n_out: int, prior_std: float = 1.0, generator: torch.Generator | None = None) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        self.w_mu = nn.Parameter(torch.empty(n_out, n_in).uniform_(-bound, bound, generator=generator))
        self.w_rho = nn.Parameter(torch.full((n_out, n_in), -5.0))
        self.b_mu = nn.Parameter(torch.zeros(n_out))
        self.b_rho = nn.Parameter(torch.full((n_out,), -5.0))
        self.prior_std = prior_std
        #: Where the weight noise is drawn from (set before sampling; never torch's global generator).
        self.generator: torch.Generator | None = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.generator is None:
            raise RuntimeError("BayesLinear needs a torch.Generator for its weight noise: call set_generator first")
        w_std = nn.functional.softplus(self.w_rho)
        b_std = nn.functional.softplus(self.b_rho)
        w = self.w_mu + w_std * torch.randn(w_std.shape, generator=self.generator, dtype=w_std.dtype)
        b = self.b_mu + b_std * torch.randn(b_std.shape, generator=self.generator, dtype=b_std.dtype)
        return nn.functional.linear(x, w, b)

    def kl(self) -> torch.Tensor:
        """KL(q(w) || N(0, prior_std^2)), summed over weights and biases."""
        total = torch.zeros(())
        for mu, rho in ((self.w_mu, self.w_rho), (self.b_mu, self.b_rho)):
            std = nn.functional.softplus(rho)
            p = self.prior_std
            total = total + (torch.log(p / std) + (std**2 + mu**2) / (2 * p**2) - 0.5).sum()
        return total


class _MixerBlock(nn.Module):
    def __init__(self, n_tokens: int, dim: int, hidden: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.tok1, self.tok2 = (
            BayesLinear(n_tokens, hidden, generator=generator),
            BayesLinear(hidden, n_tokens, generator=generator),
        )
        self.ch1, self.ch2 = (
            BayesLinear(dim, hidden, generator=generator),
            BayesLinear(hidden, dim, generator=generator),
        )

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # token mixing: across layers, per channel (padded tokens stay zero)
        t = self.norm1(h).transpose(1, 2)
        h = h + self.tok2(nn.functional.gelu(self.tok1(t))).transpose(1, 2) * mask
        return h + self.ch2(nn.functional.gelu(self.ch1(self.norm2(h)))) * mask


class MixerBN(nn.Module):
    """Mixer over per-layer tokens with Bayesian linear layers; one score per architecture."""

    def __init__(
        self,
        n_tokens: int,
        n_stats: int,
        dim: int = 32,
        hidden: int = 64,
        depth: int = 2,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(n_stats + 1, dim)  # stats + relative position
        if generator is not None:
            init_parameters_(self.embed, generator)
        self.blocks = nn.ModuleList(_MixerBlock(n_tokens, dim, hidden, generator) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = BayesLinear(dim, 1, generator=generator)

    def set_generator(self, generator: torch.Generator) -> None:
        """Draw the Bayesian layers' weight noise from ``generator``."""
        for m in self.modules():
            if isinstance(m, BayesLinear):
                m.generator = generator

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.embed(x) * mask
        for block in self.blocks:
            h = block(h, mask)
        pooled = (self.norm(h) * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.head(pooled).squeeze(-1)

    def kl(self) -> torch.Tensor:
        return sum(
            (m.kl() for m in self.modules() if isinstance(m, BayesLinear)),
            torch.zeros(()),
        )


def diff_kendall(pred: torch.Tensor, target: torch.Tensor, alpha: float = 10.0) -> torch.Tensor:
    """Differentiable Kendall tau: mean over pairs of ``tanh(alpha * dpred) * sign(dtarget)``."""
    dp = pred[:, None] - pred[None, :]
    dt = torch.sign(target[:, None] - target[None, :])
    iu = torch.triu_indices(len(pred), len(pred), offset=1)
    pairs = dt[iu[0], iu[1]] != 0
    if not pairs.any():
        return torch.zeros(())
    return (torch.tanh(alpha * dp[iu[0], iu[1]]) * dt[iu[0], iu[1]])[pairs].mean()


class ParZCPredictor(Predictor):
    """Parametric zero-cost proxy on per-layer statistics (ParZC-style).

    Args:
        task: Task whose images the statistics are computed on.
        stats: Per-layer statistics used as token features.
        max_tokens: Sequence length (longer networks are truncated, shorter padded).
        dim, hidden, depth: Mixer width, MLP width and number of blocks.
        epochs: Maximum training epochs (full batch).
        lr: Adam learning rate.
        kl_weight: Weight of the KL term (divided by the training-set size).
        alpha: Steepness of DiffKendall's ``tanh``.
        holdout: Fraction of the training set held out for early stopping and
            calibration.
        mc_samples: Weight draws at prediction time.
        batch_size, C, N, seed: :class:`~archgen.predictors.zerocost.ZCSettings`.
        random_state: Seed of the split, initialisation and weight draws.
    """

    name = "parzc"
    capabilities = Capabilities(has_uncertainty=True, needs_images=True, spaces=("nb201",), min_train=10)
    hyperparameters: ClassVar[Mapping[str, Param]] = {
        "stats": Param("names", 1, 16, choices=tuple(LAYER_STATS), cost=True),
        "max_tokens": Param("int", 1, 1000, cost=True),
        "dim": Param("int", 1, 512, cost=True),
        "hidden": Param("int", 1, 1024, cost=True),
        "depth": Param("int", 1, 8, cost=True),
        "epochs": Param("int", 1, 2000, cost=True),
        "lr": Param("float", 1e-6, 1.0),
        "kl_weight": Param("float", 0.0, 10.0),
        "alpha": Param("float", 0.0, 1000.0),
        "holdout": Param("float", 0.01, 0.5),
        "mc_samples": Param("int", 1, 200, cost=True),
        **PROXY_NET,
    }
    paper = "Dong et al., ParZC: Parametric Zero-Cost Proxies for Efficient NAS, AAAI 2025 (arXiv:2402.02105)"

    def __init__(
        self,
        task: str = "cifar10",
        stats: tuple[str, ...] | list[str] = DEFAULT_STATS,
        max_tokens: int = 100,
        dim: int = 32,
        hidden: int = 64,
        depth: int = 2,
        epochs: int = 300,
        lr: float = 3e-3,
        kl_weight: float = 1e-3,
        alpha: float = 10.0,
        holdout: float = 0.15,
        mc_samples: int = 20,
        batch_size: int = 64,
        C: int = 16,
        N: int = 5,
        seed: int = 0,
        random_state: int = 0,
    ) -> None:
        self.task = task
        self.stats = tuple(stats)
        self.max_tokens = max_tokens
        self.dim = dim
        self.hidden = hidden
        self.depth = depth
        self.epochs = epochs
        self.lr = lr
        self.kl_weight = kl_weight
        self.alpha = alpha
        self.holdout = holdout
        self.mc_samples = mc_samples
        self.batch_size = batch_size
        self.C = C
        self.N = N
        self.seed = seed
        self.random_state = random_state

    # -- tokens ----------------------------------------------------------------
    def _layer_stats(self, archs: list[Arch]) -> list[np.ndarray]:
        data = require_data(self.data, "ParZC's per-layer proxy statistics")
        out = score_archs(archs, self.task, ["params"], ZCSettings.of(self), data=data, layer_stats=self.stats)
        cols = [LAYER_STATS.index(s) for s in self.stats]
        return [np.asarray(a, dtype=np.float64)[:, cols] for a in out["__layers__"]]  # type: ignore[union-attr]

    def _tokens(self, layers: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        T, S = self.max_tokens, len(self.stats)
        x = np.zeros((len(layers), T, S + 1), dtype=np.float32)
        mask = np.zeros((len(layers), T, 1), dtype=np.float32)
        for i, a in enumerate(layers):
            a = a[:T]
            z = np.sign(a) * np.log1p(np.abs(a))
            x[i, : len(a), :S] = (z - self.tok_mean_) / self.tok_std_
            x[i, : len(a), S] = np.arange(len(a)) / T
            mask[i, : len(a)] = 1.0
        return torch.from_numpy(x), torch.from_numpy(mask)

    def _net(self, generator: torch.Generator | None = None) -> MixerBN:
        return MixerBN(self.max_tokens, len(self.stats), self.dim, self.hidden, self.depth, generator)

    # -- fit / predict -----------------------------------------------------------
    def _fit(self, archs: list[Arch], y: np.ndarray, monitor: FitMonitor) -> None:
        layers = self._layer_stats(archs)
        z = np.concatenate([np.sign(a) * np.log1p(np.abs(a)) for a in layers])
        self.tok_mean_ = z.mean(0)
        self.tok_std_ = np.where(z.std(0) > 1e-12, z.std(0), 1.0)
        x, mask = self._tokens(layers)
        rng = np.random.default_rng(self.random_state)
        n = len(archs)
        n_hold = max(3, round(self.holdout * n))
        hold, train = random_split(n, n_hold, rng)
        yt = torch.as_tensor((y - y.mean()) / (y.std() + 1e-12), dtype=torch.float32)
        # one generator draws the initial weights and every weight-noise sample
        net = self._net(torch_generator(self.random_state))
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        best_tau, best_state, bad = -np.inf, None, 0
        for epoch in range(self.epochs):
            net.train()
            opt.zero_grad()
            pred = net(x[train], mask[train])
            if epoch % 10 == 0:
                monitor.progress(epoch / self.epochs, f"epoch {epoch}/{self.epochs}")
            loss = -diff_kendall(pred, yt[train], self.alpha) + self.kl_weight * net.kl() / len(train)
            loss.backward()
            opt.step()
            if epoch % 10 == 9 or epoch == self.epochs - 1:
                with torch.no_grad():
                    tau = kendall_tau(y[hold], self._mc(net, x[hold], mask[hold], 8).mean(0))
                if tau > best_tau + 1e-4:
                    best_tau, best_state, bad = (
                        tau,
                        {k: v.clone() for k, v in net.state_dict().items()},
                        0,
                    )
                else:
                    bad += 1
                    if bad >= 6:
                        break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.net_ = net
        score_tr = self._mc(net, x[train], mask[train], self.mc_samples).mean(0)
        self.a_, self.b_ = np.polyfit(score_tr, y[train], 1) if np.ptp(score_tr) > 0 else (0.0, float(y.mean()))
        mu, sd = self._map(self._mc(net, x[hold], mask[hold], self.mc_samples))
        self.scale_ = coverage_scale(y[hold], mu, np.maximum(sd, 1e-6 * (y.std() + 1e-12)))
        self.heldout_tau_ = float(best_tau)

    def _mc(self, net: MixerBN, x: torch.Tensor, mask: torch.Tensor, samples: int) -> np.ndarray:
        net.eval()
        with torch.no_grad():
            return torch.stack([net(x, mask) for _ in range(samples)]).numpy().astype(np.float64)

    def _map(self, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acc = self.a_ * draws + self.b_
        return acc.mean(0), acc.std(0)

    def _predict(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray | None]:
        x, mask = self._tokens(self._layer_stats(archs))
        self.net_.set_generator(torch_generator(self.random_state + 1))  # the same draws on every call
        mu, sd = self._map(self._mc(self.net_, x, mask, self.mc_samples))
        return mu, self.scale_ * sd

    # -- state ---------------------------------------------------------------------
    def get_state(self) -> PredictorState:
        self._require_fitted()
        arrays = {f"net/{k}": v.detach().numpy().copy() for k, v in self.net_.state_dict().items()}
        arrays.update(tok_mean=self.tok_mean_, tok_std=self.tok_std_)
        return PredictorState(
            meta={
                "a": float(self.a_),
                "b": float(self.b_),
                "scale": self.scale_,
                "heldout_tau": self.heldout_tau_,
            },
            arrays=arrays,
        )

    def set_state(self, state: PredictorState) -> None:
        net = self._net(torch_generator(0))  # initial values are replaced by the stored ones
        net.load_state_dict(
            {k[4:]: torch.from_numpy(np.asarray(v)) for k, v in state.arrays.items() if k.startswith("net/")}
        )
        self.net_ = net
        self.tok_mean_, self.tok_std_ = (
            state.arrays["tok_mean"],
            state.arrays["tok_std"],
        )
        self.a_, self.b_ = float(state.meta["a"]), float(state.meta["b"])
        self.scale_ = float(state.meta["scale"])
        self.heldout_tau_ = float(state.meta["heldout_tau"])
        self.fitted_ = True
