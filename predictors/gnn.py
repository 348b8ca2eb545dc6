"""Directed graph neural network on the operation-on-node DAG.

Each cell is the DAG of :meth:`SearchSpace.to_graph` (one node per operation,
input and output nodes). Every layer passes messages both along the edges and
against them, with separate weights (Rossi et al., "Edge Directionality
Improves Learning on Heterophilic Graphs", 2023, PyG's ``DirGNNConv``), the
forward/backward scheme of GATES (Ning et al., ECCV 2020) and D-VAE (Zhang et
al., NeurIPS 2019); each direction is a GIN aggregator (Xu et al., ICLR 2019).
Mean- and max-pooled node states, concatenated with standardised label-free
measurements (params, FLOPs, zero-cost scores), feed an MLP head.

Training: full-batch Adam on MSE plus a pairwise logistic ranking loss
(as in Ning et al., "Evaluating Efficient Performance Estimators of Neural
Architectures", NeurIPS 2021),

.. math::
    \\mathcal{L} = \\frac1n\\sum_i (f_i - y_i)^2
      + \\lambda \\frac{1}{|P|}\\sum_{(i,j)\\in P} \\log\\big(1 + e^{-(f_i - f_j)\\,\\mathrm{sign}(y_i - y_j)}\\big),

with early stopping on the Kendall tau of a held-out slice of the training set.
Uncertainty: a deep ensemble (Lakshminarayanan et al., NeurIPS 2017) whose
spread is scaled to cover 68.3% of the members' held-out residuals.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from archgen.arch import Arch
from archgen.errors import UnsupportedOperationError
from archgen.predictors.base import (
    Capabilities,
    FitMonitor,
    Predictor,
    PredictorState,
)
from archgen.predictors.calibration import (
    IDENTITY,
    RECAL_EPS,
    apply_recalibration,
    fit_recalibration,
    map_spread,
    torch_interp,
)
from archgen.predictors.features import Standardizer, label_free_features
from archgen.predictors.hyperparams import ZC_SOURCE, Param
from archgen.predictors.metrics import coverage_scale, kendall_tau
from archgen.predictors.splits import random_split
from archgen.rng import GeneratorDropout, init_parameters_, torch_generator
from archgen.spaces import get_space

_GRAPH_MEMO: dict[Arch, tuple[np.ndarray, np.ndarray]] = {}


def graph_batch(
    archs: Sequence[Arch],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PyG-style batch of the canonical forms' graphs.

    Returns:
        ``x`` ``[N, num_node_types]``, ``edge_index`` ``[2, E]`` and ``batch``
        ``[N]`` (graph id of each node), for ``N`` nodes over all graphs.
    """
    space = get_space(archs[0].space)
    xs, eis, sizes = [], [], []
    offset = 0
    for a in archs:
        g = _GRAPH_MEMO.get(a)
        if g is None:
            adj, x = space.to_dense(space.canonical(a))
            g = (
                x.numpy().astype(np.float32),
                adj.nonzero().t().numpy().astype(np.int64),
            )
            if len(_GRAPH_MEMO) > 500_000:
                _GRAPH_MEMO.clear()
            _GRAPH_MEMO[a] = g
        xs.append(g[0])
        eis.append(g[1] + offset)
        sizes.append(len(g[0]))
        offset += len(g[0])
    batch = np.repeat(np.arange(len(archs)), sizes)
    return (
        torch.from_numpy(np.concatenate(xs)),
        torch.from_numpy(np.concatenate(eis, axis=1)),
        torch.from_numpy(batch),
    )


class DirectedGIN(nn.Module):
    """Stack of direction-aware GIN layers with a pooled MLP head.

    Args:
        in_channels: Node-feature width (number of node types).
        global_channels: Width of the per-graph feature vector (0 for none).
        hidden_channels: Node-state width.
        num_layers: Message-passing layers.
        dropout: Dropout in the head.

    Shapes:
        ``x`` ``[N, in_channels]``, ``edge_index`` ``[2, E]``, ``batch`` ``[N]``,
        ``g`` ``[B, global_channels]`` -> ``[B]``.
    """

    def __init__(
        self,
        in_channels: int,
        global_channels: int,
        hidden_channels: int = 64,
        num_layers: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        from torch_geometric.nn import DirGNNConv, GINConv  # lazy: torch_geometric takes 1.5-5 s; only the GNN needs it

        self.lin_in = nn.Linear(in_channels, hidden_channels)

        def gin() -> GINConv:
            conv = GINConv(
                nn.Sequential(
                    nn.Linear(hidden_channels, hidden_channels),
                    nn.ReLU(),
                    nn.Linear(hidden_channels, hidden_channels),
                ),
                train_eps=True,
            )
            # DirGNNConv sizes its root weight from these; GINConv does not set them
            conv.in_channels = conv.out_channels = hidden_channels
            return conv

        self.convs = nn.ModuleList(DirGNNConv(gin(), alpha=0.5, root_weight=True) for _ in range(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_channels) for _ in range(num_layers))
        self.dropout = GeneratorDropout(dropout)
        self.head = nn.Sequential(
            nn.Linear(2 * hidden_channels + global_channels, hidden_channels),
            nn.ReLU(),
            self.dropout,
            nn.Linear(hidden_channels, 1),
        )

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        batch: torch.Tensor,
        g: torch.Tensor,
    ) -> torch.Tensor:
        from torch_geometric.nn import global_max_pool, global_mean_pool  # lazy: as above

        h = self.lin_in(x)
        for conv, norm in zip(self.convs, self.norms, strict=False):
            h = h + torch.relu(norm(conv(h, edge_index)))
        size = int(g.shape[0])
        pooled = [global_mean_pool(h, batch, size), global_max_pool(h, batch, size)]
        return self.head(torch.cat([*pooled, g], dim=1)).squeeze(-1)

    def forward_dense(self, adj: torch.Tensor, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """The same network on dense graphs, differentiable in ``adj`` and ``x``.

        With a 0/1 ``adj`` it equals :meth:`forward` on the sparse form: the
        GIN sum over in-neighbours is ``adj^T h``, over out-neighbours ``adj h``.

        Shapes:
            ``adj`` ``[B, N, N]`` (``adj[b, i, j]``: edge ``i -> j``), ``x``
            ``[B, N, in_channels]``, ``g`` ``[B, global_channels]`` -> ``[B]``.
        """
        h = self.lin_in(x)
        for conv, norm in zip(self.convs, self.norms, strict=False):
            c_in, c_out = conv.conv_in, conv.conv_out
            x_in = c_in.nn(adj.transpose(1, 2) @ h + (1 + c_in.eps) * h)
            x_out = c_out.nn(adj @ h + (1 + c_out.eps) * h)
            out = conv.alpha * x_out + (1 - conv.alpha) * x_in
            if conv.root_weight:
                out = out + conv.lin(h)
            h = h + torch.relu(norm(out))
        pooled = [h.mean(dim=1), h.amax(dim=1)]
        return self.head(torch.cat([*pooled, g], dim=1)).squeeze(-1)


def pairwise_rank_loss(pred: torch.Tensor, y: torch.Tensor, n_pairs: int, generator: torch.Generator) -> torch.Tensor:
    """Logistic loss on random pairs: ``log(1 + exp(-(p_i - p_j) * sign(y_i - y_j)))``."""
    n = pred.shape[0]
    i = torch.randint(n, (n_pairs,), generator=generator)
    j = torch.randint(n, (n_pairs,), generator=generator)
    s = torch.sign(y[i] - y[j])
    keep = s != 0
    if not bool(keep.any()):
        return pred.sum() * 0.0
    return nn.functional.softplus(-(pred[i] - pred[j])[keep] * s[keep]).mean()


class GNNPredictor(Predictor):
    """Deep ensemble of directed GINs.

    Args:
        task: Task whose label-free measurements join the pooled graph state
            (required unless ``zc="none"``).
        zc: Zero-cost feature source (``"none"``, ``"table"``, ``"computed"``).
        hidden_channels: Node-state width.
        num_layers: Message-passing layers.
        n_members: Ensemble members.
        epochs: Most full-batch epochs per member.
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        rank_weight: Weight ``lambda`` of the ranking loss.
        holdout: Fraction of the training set held out for early stopping.
        patience: Evaluations (every 10 epochs) without improvement before stopping.
        random_state: Seed.
    """

    name = "gnn"
    capabilities = Capabilities(has_uncertainty=True, min_train=10, differentiable=True)
    hyperparameters: ClassVar[Mapping[str, Param]] = {
        "zc": ZC_SOURCE,
        "hidden_channels": Param("int", 4, 512, cost=True),
        "num_layers": Param("int", 1, 8, cost=True),
        "n_members": Param("int", 1, 20, cost=True),
        "epochs": Param("int", 1, 2000, cost=True),
        "lr": Param("float", 1e-6, 1.0),
        "weight_decay": Param("float", 0.0, 1.0),
        "rank_weight": Param("float", 0.0, 100.0),
        "holdout": Param("float", 0.01, 0.5),
        "patience": Param("int", 1, 100, cost=True),
    }
    paper = "Ning et al., A Generic Graph-based Neural Architecture Encoding Scheme for Predictor-based NAS (GATES), ECCV 2020"

    def __init__(
        self,
        task: str | None = None,
        zc: str = "table",
        hidden_channels: int = 64,
        num_layers: int = 3,
        n_members: int = 5,
        epochs: int = 400,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        rank_weight: float = 1.0,
        holdout: float = 0.1,
        patience: int = 6,
        random_state: int = 0,
    ) -> None:
        self.task = task
        self.zc = zc
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.n_members = n_members
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.rank_weight = rank_weight
        self.holdout = holdout
        self.patience = patience
        self.random_state = random_state

    # -- inputs ----------------------------------------------------------------
    def _global(self, archs: list[Arch], fit: bool = False) -> torch.Tensor:
        if self.zc == "none":
            return torch.zeros(len(archs), 0)
        extra = label_free_features(archs, self.task, self.zc, self.data)
        if fit:
            self.scaler_ = Standardizer().fit(extra)
        return torch.as_tensor(self.scaler_.transform(extra), dtype=torch.float32)

    def _new_net(self, in_channels: int, global_channels: int, generator: torch.Generator) -> DirectedGIN:
        net = DirectedGIN(in_channels, global_channels, self.hidden_channels, self.num_layers)
        init_parameters_(net, generator)
        net.dropout.generator = generator
        return net

    # -- training ----------------------------------------------------------------
    def _fit(self, archs: list[Arch], y: np.ndarray, monitor: FitMonitor) -> None:

        x, edge_index, batch = graph_batch(archs)
        g = self._global(archs, fit=True)
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
        yt = torch.as_tensor((y - self.y_mean_) / self.y_std_, dtype=torch.float32)
        n = len(archs)
        n_hold = max(
            3, round(self.holdout * n), min(10, n // 4)
        )  # at least 10 calibration cells per member where n allows
        rng = np.random.default_rng(self.random_state)
        self.nets_: list[DirectedGIN] = []
        self.in_channels_, self.global_channels_ = int(x.shape[1]), int(g.shape[1])
        held: list[tuple[np.ndarray, np.ndarray]] = []
        for m in range(self.n_members):
            seed = int(rng.integers(2**31 - 1))
            gen = torch_generator(seed)
            hold, train = random_split(n, n_hold, rng)
            net = self._new_net(self.in_channels_, self.global_channels_, gen)
            saved = monitor.restore(f"member{m}")
            if saved is not None:  # finished by an interrupted fit
                net.load_state_dict({k: torch.as_tensor(v) for k, v in saved.arrays.items()})
            else:
                self._train_member(net, gen, x, edge_index, batch, g, y, yt, train, hold, monitor, m)
                monitor.save(
                    f"member{m}",
                    PredictorState(arrays={k: v.detach().numpy().copy() for k, v in net.state_dict().items()}),
                )
            net.eval()
            self.nets_.append(net)
            held.append((hold, self._forward(net, x, edge_index, batch, g)[hold]))
            monitor.progress(
                (m + 1) / self.n_members, f"member {m + 1}/{self.n_members} {'restored' if saved else 'fitted'}"
            )
        # calibrate the level and the spread on each member's held-out predictions
        _, spread_all = self._ensemble(x, edge_index, batch, g)
        idx = np.concatenate([h for h, _ in held])
        raw = np.concatenate([p for _, p in held]) * self.y_std_ + self.y_mean_
        self.recal_ = fit_recalibration(raw, y[idx])
        # honest residuals: each member's held-out cells through a map fitted on the other members' cells
        member = np.concatenate([np.full(len(h), m) for m, (h, _) in enumerate(held)])
        pred1 = np.empty_like(raw)
        for m in range(len(held)):
            own = member == m
            knots = fit_recalibration(raw[~own], y[idx][~own]) if len(held) > 1 else self.recal_
            pred1[own] = apply_recalibration(knots, raw[own])
        spread = np.maximum(map_spread(self.recal_, raw, spread_all[idx] * self.y_std_), 1e-3 * self.y_std_)
        r2 = (y[idx] - pred1) ** 2 - spread**2 * (1.0 - 1.0 / self.n_members)
        resid = np.sqrt(np.maximum(r2, 0.0))
        self.scale_ = coverage_scale(resid, np.zeros_like(resid), spread) if self.n_members > 1 else 1.0

    def _train_member(
        self,
        net: DirectedGIN,
        gen: torch.Generator,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        batch: torch.Tensor,
        g: torch.Tensor,
        y: np.ndarray,
        yt: torch.Tensor,
        train: np.ndarray,
        hold: np.ndarray,
        monitor: FitMonitor,
        m: int,
    ) -> None:
        """Adam with early stopping on held-out Kendall tau; leaves ``net`` at its best state."""
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        tr_t = torch.from_numpy(train)
        best, best_state, waited = -np.inf, copy.deepcopy(net.state_dict()), 0
        for epoch in range(self.epochs):
            net.train()
            opt.zero_grad()
            out = net(x, edge_index, batch, g)[tr_t]
            loss = nn.functional.mse_loss(out, yt[tr_t])
            if self.rank_weight > 0:
                loss = loss + self.rank_weight * pairwise_rank_loss(out, yt[tr_t], min(4096, 8 * len(train)), gen)
            loss.backward()
            opt.step()
            if epoch % 10 == 9 or epoch == self.epochs - 1:
                monitor.progress((m + (epoch + 1) / self.epochs) / self.n_members, None)
                pred_hold = self._forward(net, x, edge_index, batch, g)[hold]
                score = kendall_tau(y[hold], pred_hold) if np.ptp(pred_hold) > 0 else -1.0
                if score > best + 1e-4:
                    best, best_state, waited = score, copy.deepcopy(net.state_dict()), 0
                else:
                    waited += 1
                    if waited >= self.patience:
                        break
        net.load_state_dict(best_state)

    # -- differentiable mean --------------------------------------------------------
    def is_differentiable(self) -> bool:
        """Only encoding-only models (``zc="none"``): label-free measurements are not functions of the encoding."""
        return self.zc == "none"

    def torch_mean(self, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Ensemble mean of the dense encodings ``adj`` ``[B, N, N]``, ``x`` ``[B, N, T]`` -> ``[B]``.

        The encoding is used as given (not canonicalised). Needs ``zc="none"``.
        """
        self._require_fitted()
        if not self.is_differentiable():
            raise UnsupportedOperationError(
                f"gnn with zc={self.zc!r} is not differentiable in the encoding (its label-free features are "
                "table or proxy values); fit it with zc='none'"
            )
        g = torch.zeros(adj.shape[0], 0, dtype=x.dtype)
        outs = []
        for net in self.nets_:
            net.eval()
            outs.append(net.forward_dense(adj.to(torch.float32), x.to(torch.float32), g.to(torch.float32)))
        raw = torch.stack(outs).mean(0) * self.y_std_ + self.y_mean_
        if np.array_equal(self.recal_, IDENTITY):
            return raw
        x, v = (torch.as_tensor(k, dtype=raw.dtype) for k in self.recal_)
        return torch_interp(raw, x, v) + RECAL_EPS * (raw - x.mean())

    @staticmethod
    def _forward(
        net: DirectedGIN,
        x: torch.Tensor,
        ei: torch.Tensor,
        b: torch.Tensor,
        g: torch.Tensor,
    ) -> np.ndarray:
        net.eval()
        with torch.no_grad():
            return net(x, ei, b, g).numpy().astype(np.float64)

    def _ensemble(
        self, x: torch.Tensor, ei: torch.Tensor, b: torch.Tensor, g: torch.Tensor
    ) -> tuple[np.ndarray, np.ndarray]:
        preds = np.stack([self._forward(net, x, ei, b, g) for net in self.nets_])
        return preds.mean(0), preds.std(0)

    def _predict(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray | None]:
        x, edge_index, batch = graph_batch(archs)
        g = self._global(archs)
        mean, spread = self._ensemble(x, edge_index, batch, g)
        raw = mean * self.y_std_ + self.y_mean_
        std = self.scale_ * np.maximum(map_spread(self.recal_, raw, spread * self.y_std_), 1e-3 * self.y_std_)
        return apply_recalibration(self.recal_, raw), std

    # -- persistence -------------------------------------------------------------
    def get_state(self) -> PredictorState:
        self._require_fitted()
        arrays = {
            f"member{m}/{k}": v.detach().numpy()
            for m, net in enumerate(self.nets_)
            for k, v in net.state_dict().items()
        }
        arrays["recal"] = self.recal_
        if self.zc != "none":
            arrays.update(self.scaler_.get_arrays())
        meta = {
            "y_mean": self.y_mean_,
            "y_std": self.y_std_,
            "scale": self.scale_,
            "n_recal": int(self.recal_.shape[1]),
            "in_channels": self.in_channels_,
            "global_channels": self.global_channels_,
            "n_nets": len(self.nets_),
        }
        return PredictorState(meta=meta, arrays=arrays)

    def set_state(self, state: PredictorState) -> None:
        meta, a = state.meta, state.arrays
        self.y_mean_, self.y_std_, self.scale_ = (
            float(meta["y_mean"]),
            float(meta["y_std"]),
            float(meta["scale"]),
        )
        self.recal_ = np.asarray(a.get("recal", IDENTITY), dtype=np.float64)
        self.in_channels_, self.global_channels_ = (
            int(meta["in_channels"]),
            int(meta["global_channels"]),
        )
        if self.zc != "none":
            self.scaler_ = Standardizer.from_arrays(a)
        self.nets_ = []
        for m in range(int(meta["n_nets"])):
            net = self._new_net(self.in_channels_, self.global_channels_, torch_generator(m))
            prefix = f"member{m}/"
            net.load_state_dict({k[len(prefix) :]: torch.as_tensor(v) for k, v in a.items() if k.startswith(prefix)})
            net.eval()
            self.nets_.append(net)
        self.fitted_ = True
