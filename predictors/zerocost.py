"""Zero-cost proxies computed on real networks and a real CIFAR-10 mini-batch.

Definitions follow the papers and NAS-Bench-Suite-Zero's reference code
(Krishnakumar et al., NeurIPS 2022 D&B), so scores can be compared with its
published values:

* ``params``, ``flops``: parameter count (M) and multiply-accumulates of
  convolutions and linear layers for one image (M).
* ``l2_norm``: sum over layers of the weights' L2 norm at initialisation.
* ``snip`` (Lee et al., ICLR 2019): :math:`\\sum |\\theta \\odot \\partial L/\\partial\\theta|`.
* ``grad_norm`` (Abdelfattah et al., ICLR 2021): sum over layers of :math:`\\|\\partial L/\\partial\\theta\\|_2`.
* ``plain``: :math:`\\sum \\theta \\odot \\partial L/\\partial\\theta`.
* ``grasp`` (Wang et al., ICLR 2020): :math:`-\\sum \\theta \\odot H g`.
* ``fisher`` (Turner et al., ICLR 2020): per channel
  :math:`\\tfrac12 \\mathbb{E}_b[(\\sum_{hw} a \\cdot \\partial L/\\partial a)^2]`, summed.
* ``jacov`` (Mellor et al., 2020 v1): :math:`-\\sum_i \\log(\\lambda_i + k) + 1/(\\lambda_i + k)`
  over the eigenvalues of the correlation matrix of input Jacobians.
* ``epe_nas`` (Lopes et al., ICANN 2021): per-class Jacobian correlations.
* ``nwot`` (Mellor et al., ICML 2021): :math:`\\log|\\det K_H|` of the ReLU-code kernel.
* ``synflow`` (Tanaka et al., NeurIPS 2020): :math:`\\sum |\\theta \\odot \\partial R/\\partial\\theta|`,
  ``R`` the output sum of the BN-free network with ``|θ|`` weights on an all-ones input (float64).
* ``zen`` (Lin et al., ICCV 2021): log of the pre-pooling feature change under a
  1e-2 input perturbation plus the BN scaling terms, Gaussian-initialised weights.

Passes are shared: one forward pass on the mini-batch feeds ``nwot``,
``flops`` and the loss, whose first-order gradients give ``snip``,
``grad_norm``, ``plain`` and ``fisher`` at once, a Hessian-vector
product (a double backward through that pass) gives ``grasp``, and the output sum's input
gradient gives ``jacov`` and ``epe_nas``; ``synflow`` and ``zen`` need their own (cheap) passes.

Scores are computed on the canonical form of each cell and cached on disk
(JSON lines, no pickle), keyed by space, task, canonical architecture and the
settings (batch size, width, seed, package version); per-layer statistics are
cached with them for the ParZC-style predictor.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from archgen.arch import Arch
from archgen.errors import UnknownNameError, UnsupportedSpaceError
from archgen.rng import torch_generator
from archgen.spaces import get_space
from archgen.tasks.images import check_image_task, task_images

if TYPE_CHECKING:
    from archgen.context import Workspace

PROXIES: tuple[str, ...] = (
    "epe_nas",
    "fisher",
    "flops",
    "grad_norm",
    "grasp",
    "jacov",
    "l2_norm",
    "nwot",
    "params",
    "plain",
    "snip",
    "synflow",
    "zen",
)
#: Per-layer statistics kept for node-wise predictors (ParZC), one row per conv/linear layer.
LAYER_STATS: tuple[str, ...] = (
    "snip",
    "grad_norm",
    "fisher",
    "grasp",
    "plain",
    "synflow",
    "l2_norm",
    "params",
)
#: Tasks whose images archgen has, and their number of classes.
IMAGE_TASKS: dict[str, tuple[str, int]] = {
    "cifar10": ("cifar10", 10),
    "cifar10-valid": ("cifar10", 10),
}
SUPPORTED_SPACES = ("nb201",)
_CACHE_VERSION = 3  # 3: networks initialised from an explicit torch.Generator

#: Score given where a proxy is -inf (see :func:`compute_proxies`).
NO_SIGNAL = -1e30

_PASS_A = {
    "snip",
    "grad_norm",
    "plain",
    "fisher",
    "grasp",
    "jacov",
    "epe_nas",
    "nwot",
    "flops",
}


@dataclass(frozen=True)
class ZCSettings:
    """What a zero-cost score depends on besides the architecture (the one type of zero-cost network settings:
    predictors, the score cache, the service and its jobs use it).

    Attributes:
        batch_size: Images in the mini-batch.
        C: Width of the network's first stage.
        N: Cells per stage.
        seed: Seed of the mini-batch draw and of the weight initialisation.
    """

    batch_size: int = 64
    C: int = 16
    N: int = 5
    seed: int = 0

    @classmethod
    def of(cls, predictor: object) -> ZCSettings:
        """The settings held in a predictor's ``batch_size``, ``C``, ``N`` and ``seed`` parameters."""
        return cls(batch_size=predictor.batch_size, C=predictor.C, N=predictor.N, seed=predictor.seed)  # type: ignore[attr-defined]

    def described(self) -> dict[str, int]:
        """The settings as the service reports them: ``batch_size``, ``width``, ``cells_per_stage``, ``seed``."""
        return {"batch_size": self.batch_size, "width": self.C, "cells_per_stage": self.N, "seed": self.seed}

    def key(self) -> str:
        return hashlib.sha256(json.dumps({**asdict(self), "v": _CACHE_VERSION}, sort_keys=True).encode()).hexdigest()[
            :16
        ]


def _layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _jacov(jac: np.ndarray) -> float:
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant row (a dead input) has no correlation: NaN -> 0
        corrs = np.corrcoef(jac)
    v = np.linalg.eigvalsh(np.nan_to_num(corrs))
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


def _epe_nas(jac: np.ndarray, labels: np.ndarray) -> float:
    k = 1e-5
    score = 0.0
    for c in np.unique(labels):
        rows = jac[labels == c]
        if len(rows) < 2:
            continue
        corrs = np.nan_to_num(np.corrcoef(rows))
        score += abs(float(np.sum(np.log(np.abs(corrs) + k))))
    return score


def _features_before_pool(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net.lastact(net.cells(net.stem(x)))


def compute_proxies(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    proxies: Iterable[str] = PROXIES,
    seed: int = 0,
) -> tuple[dict[str, float], np.ndarray]:
    """All requested proxies of one freshly initialised network.

    Args:
        net: The network in its initial state (modified in place: weights are
            re-initialised for ``zen`` and made absolute for ``synflow``).
        x: Images ``[B, 3, H, W]``.
        y: Labels ``[B]``.
        proxies: Names from :data:`PROXIES`.
        seed: Seed of ``zen``'s Gaussian inputs and weights.

    Returns:
        ``{proxy: score}`` (``-inf`` reported as :data:`NO_SIGNAL`) and per-layer statistics ``[num_layers, len(LAYER_STATS)]``
        (NaN where a statistic was not requested).
    """
    want = set(proxies)
    unknown = want - set(PROXIES)
    if unknown:
        raise UnknownNameError("zero-cost proxy", min(unknown), PROXIES)
    net.train()
    layers = _layers(net)
    L = len(layers)
    stats = np.full((L, len(LAYER_STATS)), np.nan)
    col = {s: i for i, s in enumerate(LAYER_STATS)}
    out: dict[str, float] = {}
    stats[:, col["params"]] = [sum(p.numel() for p in m.parameters()) for m in layers]
    if "params" in want:
        out["params"] = sum(p.numel() for p in net.parameters()) / 1e6
    with torch.no_grad():
        stats[:, col["l2_norm"]] = [float(m.weight.norm()) for m in layers]
    if "l2_norm" in want:
        out["l2_norm"] = float(stats[:, col["l2_norm"]].sum())
    init_state = {k: v.clone() for k, v in net.state_dict().items()} if want & {"synflow", "zen"} else {}

    if want & _PASS_A:
        acts: list[torch.Tensor] = []
        macs = [0]
        K = torch.zeros(x.shape[0], x.shape[0], dtype=torch.float64)

        def relu_hook(_m: nn.Module, inp: tuple[torch.Tensor, ...], _o: torch.Tensor) -> None:
            codes = (inp[0].detach().flatten(1) > 0).float()
            # exact in float32: entries are counts far below 2**24
            K.add_((codes @ codes.t() + (1 - codes) @ (1 - codes).t()).double())

        def layer_hook(m: nn.Module, inp: tuple[torch.Tensor, ...], o: torch.Tensor) -> None:
            acts.append(o)
            if isinstance(m, nn.Conv2d):
                macs[0] += o[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
            else:
                macs[0] += m.in_features * m.out_features

        handles = [m.register_forward_hook(layer_hook) for m in layers]
        if "nwot" in want:
            handles += [m.register_forward_hook(relu_hook) for m in net.modules() if isinstance(m, nn.ReLU)]
        xg = x.clone().requires_grad_(True)
        try:
            logits = net(xg)
        finally:
            for h in handles:
                h.remove()
        if "flops" in want:
            out["flops"] = macs[0] / 1e6
        if "nwot" in want:
            out["nwot"] = float(torch.linalg.slogdet(K)[1])
        weights = [m.weight for m in layers]
        grad_keys = {"snip", "grad_norm", "plain", "fisher", "grasp"}
        if want & {"jacov", "epe_nas"}:
            (jac,) = torch.autograd.grad(logits.sum(), xg, retain_graph=bool(want & grad_keys))
            jac_np = jac.flatten(1).double().numpy()
            if "jacov" in want:
                out["jacov"] = _jacov(jac_np)
            if "epe_nas" in want:
                out["epe_nas"] = _epe_nas(jac_np, y.numpy())
        if want & grad_keys:
            loss = nn.functional.cross_entropy(logits, y)
            grads = torch.autograd.grad(loss, weights + acts, create_graph="grasp" in want)
            gw_graph, ga = grads[:L], [g.detach() for g in grads[L:]]
            gw = [g.detach() for g in gw_graph]
            with torch.no_grad():
                stats[:, col["snip"]] = [float((g * w).abs().sum()) for g, w in zip(gw, weights, strict=False)]
                stats[:, col["grad_norm"]] = [float(g.norm()) for g in gw]
                stats[:, col["plain"]] = [float((g * w).sum()) for g, w in zip(gw, weights, strict=False)]
                fisher = []
                for a, g in zip(acts, ga, strict=False):
                    prod = a * g
                    g_nk = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
                    fisher.append(float(g_nk.pow(2).mean(0).mul(0.5).sum()))
                stats[:, col["fisher"]] = fisher
            for name in ("snip", "grad_norm", "plain", "fisher"):
                if name in want:
                    out[name] = float(stats[:, col[name]].sum())
            if "grasp" in want:
                # exact Hessian-vector product by double backward: a finite difference
                # in float32 cannot resolve the cancelling sum (it flips the sign)
                z = sum((g * gg).sum() for g, gg in zip(gw, gw_graph, strict=False))
                hg = torch.autograd.grad(z, weights)
                with torch.no_grad():
                    stats[:, col["grasp"]] = [float(-(w * h).sum()) for w, h in zip(weights, hg, strict=False)]
                out["grasp"] = float(stats[:, col["grasp"]].sum())
        del acts, logits

    if "zen" in want:
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    m.weight.normal_(generator=gen)
                    if m.bias is not None:
                        m.bias.zero_()
                elif isinstance(m, nn.BatchNorm2d):
                    m.reset_parameters()  # weight 1, bias 0, running stats reset
            a = torch.randn(x.shape, generator=gen)
            b = torch.randn(x.shape, generator=gen)
            f1 = _features_before_pool(net, a)
            f2 = _features_before_pool(net, a + 1e-2 * b)
            score = torch.log(torch.abs(f1 - f2).sum(dim=(1, 2, 3)).mean())
            for m in net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    score = score + torch.log(torch.sqrt(m.running_var.mean()))
        out["zen"] = float(score)

    if "synflow" in want:
        net.load_state_dict(init_state)
        _strip_batchnorm(net)
        net.double()
        with torch.no_grad():
            for p in net.state_dict().values():
                p.abs_()
        net.zero_grad()
        ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64)
        net(ones).sum().backward()
        layers = _layers(net)
        with torch.no_grad():
            stats[:, col["synflow"]] = [
                0.0 if m.weight.grad is None else float((m.weight * m.weight.grad).abs().sum()) for m in layers
            ]
        out["synflow"] = float(stats[:, col["synflow"]].sum())
    # -inf means no signal reaches the output (zen's log of a zero change, nwot's
    # singular kernel): keep it last in any ranking, but finite so that it serialises
    out = {k: v if math.isnan(v) else max(v, NO_SIGNAL) for k, v in out.items()}
    return out, stats


def _strip_batchnorm(net: nn.Module) -> None:
    """Replace every BatchNorm2d by an identity (synflow's BN-free network)."""
    for name, child in list(net.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            setattr(net, name, nn.Identity())
        else:
            _strip_batchnorm(child)


class ZCCache:
    """Append-only JSON-lines store of computed scores, one file per (space, task, settings).

    A torn last line (a crash mid-write) is skipped on load.
    """

    def __init__(self, cache_dir: Path, space: str, task: str, settings: ZCSettings) -> None:
        self.path = Path(cache_dir) / "zerocost" / f"{space}-{task}-{settings.key()}.jsonl"
        self.settings = settings
        self._lock = threading.Lock()
        self._rows: dict[str, dict[str, object]] = {}
        self._offset = 0
        self._cell_locks: dict[str, threading.Lock] = {}
        self.refresh()

    def cell_lock(self, arch: str) -> threading.Lock:
        """The lock held while ``arch`` is computed: a concurrent request for the same cell waits, then reads it."""
        with self._lock:
            return self._cell_locks.setdefault(arch, threading.Lock())

    def refresh(self) -> None:
        """Read lines appended since the last read (by this or another process)."""
        with self._lock:
            if not self.path.is_file() or self.path.stat().st_size <= self._offset:
                return
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
            end = data.rfind(b"\n") + 1  # a line still being written is read next time
            self._offset += end
            for line in data[:end].decode(errors="replace").splitlines():
                try:
                    row = json.loads(line)
                    entry = self._rows.setdefault(row["arch"], {})
                    entry.update(row["scores"])
                    if "layers" in row:
                        _merge_layers(entry, np.asarray(row["layers"], dtype=np.float64))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue

    def get(self, arch: str) -> dict[str, object]:
        return self._rows.get(arch, {})

    def put(self, arch: str, scores: dict[str, float], layers: np.ndarray) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            row: dict[str, object] = {
                "arch": arch,
                "scores": scores,
                "layers": np.where(np.isnan(layers), None, layers).tolist(),
            }
            with self.path.open("a") as f:  # the next refresh() re-reads this line too: harmless
                f.write(json.dumps(row) + "\n")
            entry = self._rows.setdefault(arch, {})
            entry.update(scores)
            _merge_layers(entry, layers)


def _merge_layers(entry: dict[str, object], layers: np.ndarray) -> None:
    """Keep per-layer statistics from earlier rows where the new row has none (NaN)."""
    old = entry.get("__layers__")
    if isinstance(old, np.ndarray) and old.shape == layers.shape:
        layers = np.where(np.isnan(layers), old, layers)
    entry["__layers__"] = layers


_CACHES: dict[tuple[str, str, str, ZCSettings], ZCCache] = {}
_CACHES_LOCK = threading.Lock()


def image_source(task: str, data: Workspace) -> tuple[str, int]:
    """``(images key, number of classes)`` of a task with images: CIFAR-10's tasks share the key ``cifar10`` (one
    mini-batch of its training images); a user task's key holds its checksum (new images, new cache).

    Raises:
        UnknownNameError: a task without images (listing those with).
    """
    if task in IMAGE_TASKS:
        return IMAGE_TASKS[task]

    check_image_task(data, task, "task with images for zero-cost proxies")
    ti = task_images(data, task)
    return ti.key, ti.num_classes


def _minibatch(task: str, settings: ZCSettings, data: Workspace) -> tuple[torch.Tensor, torch.Tensor]:
    """The task's mini-batch the proxies see (drawn once with ``settings.seed``; shared by tasks on the same images)."""
    key = image_source(task, data)[0]

    def build() -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng(settings.seed)
        if task in IMAGE_TASKS:
            return data.cifar10("train").batch(settings.batch_size, rng)

        train = task_images(data, task).train
        return train.batch(min(settings.batch_size, len(train)), rng)

    return data.memo(("zc-minibatch", key, settings.batch_size, settings.seed), build)


def warm_up(data: Workspace, task: str = "cifar10", settings: ZCSettings | None = None) -> None:
    """Decode the task's mini-batch and score one cell with the default proxies, so that a first request is quick.

    The service calls this in the background after its first start (a cold
    first request otherwise pays for decoding the images and torch's first
    passes: about 20 s on 2 cores).
    """
    settings = settings or ZCSettings()
    space = data.space("nb201")
    score_archs([space.from_index(0)], task, ("synflow", "jacov", "nwot", "params"), settings, data=data)


def _uncached(
    archs: Sequence[Arch],
    image_task: str,
    proxies: Sequence[str],
    settings: ZCSettings,
    cache_dir: Path,
    cols: list[int],
) -> tuple[ZCCache, list[str], dict[str, list[int]]]:
    """The score cache, the canonical form of each arch, and ``{cell: positions}`` of cells still to compute."""
    space = get_space(archs[0].space)
    ckey = (str(cache_dir), archs[0].space, image_task, settings)
    with _CACHES_LOCK:
        cache = _CACHES.get(ckey) or _CACHES.setdefault(ckey, ZCCache(cache_dir, archs[0].space, image_task, settings))
    cache.refresh()
    canon = [space.format(space.canonical(a)) for a in archs]
    todo: dict[str, list[int]] = {}
    for k, c in enumerate(canon):
        if not _complete(cache.get(c), proxies, cols):
            todo.setdefault(c, []).append(k)
    return cache, canon, todo


def _complete(have: dict[str, object], proxies: Sequence[str], cols: list[int]) -> bool:
    """Whether a cached entry has every proxy and per-layer column asked for."""
    lay = have.get("__layers__")
    if cols and (not isinstance(lay, np.ndarray) or np.isnan(lay[:, cols]).any()):
        return False
    return all(p in have for p in proxies)


def uncached_cells(
    archs: Sequence[Arch], task: str, proxies: Sequence[str], settings: ZCSettings, data: Workspace
) -> int:
    """How many distinct cells :func:`score_archs` would have to compute (the rest are cached)."""
    if not archs:
        return 0
    image_task = image_source(task, data)[0]
    return len(_uncached(archs, image_task, list(dict.fromkeys(proxies)), settings, data.paths.cache_dir, [])[2])


def score_archs(
    archs: Sequence[Arch],
    task: str,
    proxies: Sequence[str] = PROXIES,
    settings: ZCSettings | None = None,
    *,
    data: Workspace,
    score_cache: Path | None = None,
    layer_stats: Sequence[str] = (),
    progress: bool = False,
    on_cell: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Zero-cost scores of ``archs`` (computed once per canonical cell, then cached).

    Args:
        archs: NB201 cells.
        task: A task with images (:data:`IMAGE_TASKS`, or a registered user task).
        proxies: Names from :data:`PROXIES`.
        settings: Batch size, width and seed.
        data: Workspace with the CIFAR-10 images; scores are cached under its cache directory.
        score_cache: Another directory for the score cache (benchmarks time fresh computations this way).
        layer_stats: Per-layer statistics (names from :data:`LAYER_STATS`) to
            compute too; when given, the result has ``"__layers__"``: a list of
            ``[num_layers, len(LAYER_STATS)]`` arrays, NaN in the columns not asked for.
        on_cell: Called as ``on_cell(done, total)`` after each computed (uncached)
            cell is stored; it may raise to stop (what was computed stays cached).

    Returns:
        ``{proxy: array of shape (n,)}``.

    Raises:
        UnsupportedSpaceError: for a space other than NB201.
        UnknownNameError: for an unknown proxy or a task without images.
    """
    settings = settings or ZCSettings()
    proxies = list(dict.fromkeys(proxies))
    for p in proxies:
        if p not in PROXIES:
            raise UnknownNameError("zero-cost proxy", p, PROXIES)
    image_task, num_classes = image_source(task, data)
    spaces = {a.space for a in archs}
    for s in spaces:
        if s not in SUPPORTED_SPACES:
            raise UnsupportedSpaceError("zero-cost proxies", s, SUPPORTED_SPACES)
    out: dict[str, np.ndarray] = {p: np.full(len(archs), np.nan) for p in proxies}
    layers: list[np.ndarray] = []
    if not archs:
        return out
    space = get_space(archs[0].space)
    for s in layer_stats:
        if s not in LAYER_STATS:
            raise UnknownNameError("per-layer statistic", s, LAYER_STATS)
    cols = [LAYER_STATS.index(s) for s in layer_stats]
    cache, canon, todo = _uncached(archs, image_task, proxies, settings, score_cache or data.paths.cache_dir, cols)
    if todo:
        x, y = _minibatch(task, settings, data)
        it: Iterable[str] = todo
        if progress:
            it = tqdm(list(todo), desc="zero-cost proxies", unit="cell")
        need = list(dict.fromkeys([*proxies, *(s for s in layer_stats if s in PROXIES)]))
        for done, c in enumerate(it):
            with cache.cell_lock(c):  # two requests for one cell: the second waits and reads the first's scores
                if not _complete(cache.get(c), need, cols):
                    arch = space.parse(c)
                    net = space.build_network(
                        arch, num_classes, C=settings.C, N=settings.N, generator=torch_generator(settings.seed)
                    )
                    scores, stats = compute_proxies(net, x, y, need, seed=settings.seed)
                    cache.put(c, scores, stats)
            if on_cell is not None:
                on_cell(done + 1, len(todo))
    for k, c in enumerate(canon):
        have = cache.get(c)
        for p in proxies:
            out[p][k] = float(have[p])
        if cols:
            layers.append(have["__layers__"])
    if cols:
        out["__layers__"] = layers  # type: ignore[assignment]
    return out
