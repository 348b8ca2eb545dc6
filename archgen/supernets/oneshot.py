"""Training a weight-sharing supernet and scoring paths through it.

:class:`OneShotSupernet` holds the training recipe as typed arguments, trains
with :meth:`~OneShotSupernet.fit` (returns ``self``; learned state ends in
``_``) and scores architectures with :meth:`~OneShotSupernet.estimate`: a path
inherits its weights, its batch-norm statistics are recalibrated on a few
training batches (all BN buffers of the path reset and averaged over those
batches: Guo et al., SPOS, ECCV 2020, Sec. 3.4; stale statistics move results
by points, AutoDL-Projects #70), then accuracy is measured on held-out images,
the same images for every path (their noise is shared, so the ranking is
less noisy than each accuracy).

Path sampling during training (``sampling``):

* ``uniform``: one path per step, every op of every edge with probability 1/5
  (SPOS).
* ``fair``: strict fairness (Chu et al., "FairNAS", ICCV 2021): each step takes
  five paths whose ops on every edge are a permutation of the five, gradients
  summed over them before one update, so every op of every edge is trained on
  every batch (five times the compute per step).

Training is durable: with a ``checkpoint`` file it writes the weights, the
optimiser's buffers, the step and the generator states every
``checkpoint_every`` seconds (:mod:`archgen.training.checkpoint`: an ``.npz`` without pickle), and a run given the
same file resumes where it stopped, ending as an uninterrupted run with the same
seed would. It trains and scores on the first CUDA GPU when one is present
(:func:`~archgen.training.data.auto_device`; the initial weights, batches and
paths come from CPU generators, so they are the same on any device), else on
the CPU. ``time_budget`` stops training early (the schedule is the one of
``epochs``: a stopped run is a prefix of the full one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from archgen.arch import Arch
from archgen.artifacts import ArtifactState
from archgen.errors import NotFittedError, SupernetInputError
from archgen.rng import init_parameters_, torch_generator
from archgen.spaces.nb201 import EDGES, OPS
from archgen.supernets.nb201 import NB201Supernet
from archgen.training.checkpoint import load_checkpoint, save_checkpoint
from archgen.training.data import augment, auto_device, cosine_lr, prepare_images

if TYPE_CHECKING:
    from archgen.datasets.images import ImageArrayDataset

#: Path sampling schemes of :class:`OneShotSupernet`.
SAMPLINGS = ("uniform", "fair")


class OneShotSupernet:
    """An NB201 weight-sharing supernet: training recipe, trained weights, path scoring.

    Args:
        C, N: Width and cells per stage (NB201: 16 and 5).
        resolution: Image side the supernet trains and scores at (CIFAR's 32, or 16 for speed).
        epochs: Passes over the training images (optimiser steps x ``batch_size``); the cosine schedule's length.
        batch_size: Images per step.
        lr, momentum, weight_decay, nesterov: SGD (NB201's recipe: 0.1, 0.9, 5e-4, Nesterov).
        sampling: ``uniform`` or ``fair`` (module docstring).
        calib_batches: Training batches the batch-norm statistics of a scored path are recomputed on.
        eval_images: Held-out images each path is scored on (the first ones of the held-out set).
        pad: Crop padding of the augmentation (0: none).
        seed: Initial weights, batches, paths and augmentation.
    """

    name: ClassVar[str] = "nb201-supernet"
    space: ClassVar[str] = "nb201"

    def __init__(
        self,
        C: int = 8,
        N: int = 1,
        resolution: int = 16,
        epochs: int = 50,
        batch_size: int = 128,
        lr: float = 0.1,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        nesterov: bool = True,
        sampling: str = "uniform",
        calib_batches: int = 4,
        eval_images: int = 1000,
        pad: int = 2,
        seed: int = 0,
    ) -> None:
        self.C = C
        self.N = N
        self.resolution = resolution
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.sampling = sampling
        self.calib_batches = calib_batches
        self.eval_images = eval_images
        self.pad = pad
        self.seed = seed
        self._check_params()

    def _check_params(self) -> None:
        if min(self.C, self.N, self.epochs, self.batch_size, self.calib_batches, self.eval_images) < 1:
            raise SupernetInputError("C, N, epochs, batch_size, calib_batches and eval_images must be >= 1")
        if not 4 <= self.resolution <= 256:
            raise SupernetInputError(f"resolution must be in 4..256, got {self.resolution}")
        if not (self.lr > 0 and 0 <= self.momentum < 1 and self.weight_decay >= 0 and 0 <= self.pad < self.resolution):
            raise SupernetInputError("need lr > 0, 0 <= momentum < 1, weight_decay >= 0, 0 <= pad < resolution")
        if self.sampling not in SAMPLINGS:
            raise SupernetInputError(f"unknown sampling {self.sampling!r}; valid: {', '.join(SAMPLINGS)}")

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments (what the store records)."""
        keys = ("C", "N", "resolution", "epochs", "batch_size", "lr", "momentum", "weight_decay", "nesterov",
                "sampling", "calib_batches", "eval_images", "pad", "seed")  # fmt: skip
        return {k: getattr(self, k) for k in keys}

    def __repr__(self) -> str:
        return f"OneShotSupernet({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    # -- training -------------------------------------------------------------------
    def _build(self, num_classes: int) -> None:
        self.net_ = NB201Supernet(num_classes, C=self.C, N=self.N)
        init_parameters_(self.net_, torch_generator(self.seed))  # on the CPU: the same weights on any device
        self.device_ = auto_device()
        self.net_.to(self.device_)
        self.num_classes_ = num_classes
        self.step_ = 0
        self.train_seconds_ = 0.0
        self._opt = self._optimizer()
        self._rng = np.random.default_rng(self.seed)
        self._gen = torch_generator(self.seed + 1)

    def _optimizer(self) -> torch.optim.SGD:
        return torch.optim.SGD(self.net_.parameters(), lr=self.lr, momentum=self.momentum,
                               weight_decay=self.weight_decay, nesterov=self.nesterov)  # fmt: skip

    def total_steps(self, n_images: int) -> int:
        """Optimiser steps of the whole schedule for ``n_images`` training images."""
        return max(1, self.epochs * n_images // self.batch_size)

    def _paths(self) -> list[tuple[int, ...]]:
        k = len(OPS)
        if self.sampling == "uniform":
            return [tuple(int(o) for o in self._rng.integers(k, size=len(EDGES)))]
        perms = np.stack([self._rng.permutation(k) for _ in EDGES], axis=1)  # [5 paths, 6 edges]
        return [tuple(int(o) for o in row) for row in perms]

    def fit(
        self,
        train: ImageArrayDataset,
        *,
        time_budget: float | None = None,
        checkpoint: Path | None = None,
        checkpoint_every: float = 60.0,
        on_progress: Callable[[float, str], None] | None = None,
        clock: str = "wall",
    ) -> Self:
        """Train on ``train`` (resuming from ``checkpoint`` where it holds this run's state); returns ``self``.

        ``clock``: what ``time_budget`` and ``train_seconds_`` count: ``"wall"`` seconds, or ``"cpu"`` seconds of
        this process (with one torch thread, the wall time it would take on an idle core: benchmarks sharing a
        machine use it).

        ``finished_`` says whether the whole schedule ran (``False`` when ``time_budget`` seconds stopped it). The
        budget counts :attr:`train_seconds_`, which a resumed run continues: a run killed and resumed trains for
        the budget in all, not the budget again.
        ``on_progress(fraction, message)`` is called as training moves (it may raise to stop it; the state is
        written to ``checkpoint`` first).

        Raises:
            SupernetInputError: fewer images than a batch.
            CheckpointError: ``checkpoint`` is not a checkpoint, or one of another run.
        """
        self._check_params()
        if clock not in ("wall", "cpu"):
            raise SupernetInputError(f"clock must be 'wall' or 'cpu', got {clock!r}")
        now_s = time.monotonic if clock == "wall" else time.process_time
        if len(train) < self.batch_size:
            raise SupernetInputError(f"need at least batch_size ({self.batch_size}) training images, got {len(train)}")
        x, y = prepare_images(train, self.resolution)
        num_classes = len(train.classes)
        self._build(num_classes)
        x, y = x.to(self.device_), y.to(self.device_)
        self.classes_ = tuple(train.classes)
        total = self.total_steps(len(x))
        if checkpoint is not None and Path(checkpoint).is_file():
            self._resume(Path(checkpoint), len(x))
        self.finished_ = False
        started, last_save, last_report = now_s(), now_s(), 0.0
        base_seconds = self.train_seconds_
        self.net_.train()
        try:
            # the budget counts the seconds trained in every run of this checkpoint, not this run's alone
            while self.step_ < total and (time_budget is None or self.train_seconds_ < time_budget):
                for g in self._opt.param_groups:
                    g["lr"] = cosine_lr(self.lr, self.step_, total)
                idx = torch.from_numpy(self._rng.choice(len(x), self.batch_size, replace=False)).to(x.device)
                self._step(augment(x[idx], self._gen, self.pad), y[idx])
                self.step_ += 1
                now = now_s()
                self.train_seconds_ = base_seconds + (now - started)
                if checkpoint is not None and now - last_save >= checkpoint_every:
                    self._save(Path(checkpoint), len(x))
                    last_save = now
                if on_progress is not None and (now - last_report >= 1.0 or self.step_ == total):
                    last_report = now
                    on_progress(self.step_ / total, f"step {self.step_}/{total}, {self.train_seconds_:.0f} s")
        except BaseException:
            if checkpoint is not None:
                self._save(Path(checkpoint), len(x))
            raise
        self.finished_ = self.step_ >= total
        if checkpoint is not None:
            self._save(Path(checkpoint), len(x))
        self.net_.eval()
        self.fitted_ = True
        return self

    def _step(self, xb: torch.Tensor, yb: torch.Tensor) -> None:
        """One optimiser step on a batch: the sampled paths' gradients summed, clipped, applied."""
        self._opt.zero_grad(set_to_none=True)
        for ops in self._paths():
            F.cross_entropy(self.net_(xb, ops), yb).backward()
        nn.utils.clip_grad_norm_(self.net_.parameters(), 5.0)
        self._opt.step()

    def _save(self, path: Path, n_images: int) -> None:
        meta = {"params": self.get_params(), "n_images": n_images, "num_classes": self.num_classes_,
                "step": self.step_, "train_seconds": self.train_seconds_,
                "rng": self._rng.bit_generator.state, "gen": self._gen.get_state().tolist()}  # fmt: skip
        save_checkpoint(path, self.net_, self._opt, meta)

    def _resume(self, path: Path, n_images: int) -> None:
        meta = load_checkpoint(path, self.net_, self._opt, {"params": self.get_params(), "n_images": n_images})
        self.step_ = int(meta["step"])
        self.train_seconds_ = float(meta["train_seconds"])
        self._rng.bit_generator.state = meta["rng"]
        self._gen.set_state(torch.tensor(meta["gen"], dtype=torch.uint8))

    # -- scoring --------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(type(self).__name__)

    def recalibrate(self, ops: Sequence[int], calib: torch.Tensor) -> None:
        """Recompute the batch-norm statistics of the path ``ops`` on ``calib`` (``[k, batch, 3, r, r]``)."""
        bns = [m for mod in self.net_.path_modules(ops) for m in mod.modules() if isinstance(m, nn.BatchNorm2d)]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
        self.net_.train()
        with torch.no_grad():
            for xb in calib:
                self.net_(xb, ops)
        self.net_.eval()

    def estimate(
        self, archs: Sequence[Arch], calib: ImageArrayDataset, heldout: ImageArrayDataset, *, batch: int = 1000
    ) -> np.ndarray:
        """Held-out accuracy (%) of each architecture's path after batch-norm recalibration.

        ``calib``: images the statistics are recomputed on (``calib_batches`` x ``batch_size``, drawn once with
        ``seed``: the same for every path); ``heldout``: its first ``eval_images`` are scored.

        Returns:
            ``(len(archs),)`` accuracies in percent.
        """
        self._check_fitted()
        return self.estimate_prepared(archs, *self.scoring_tensors(calib, heldout), batch=batch)

    def scoring_tensors(
        self, calib: ImageArrayDataset, heldout: ImageArrayDataset
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """What every path is scored on, prepared once: ``calib_batches`` x ``batch_size`` calibration images drawn
        with ``seed`` (``[k, b, 3, r, r]``), the first ``eval_images`` held-out images and their labels.

        Raises:
            SupernetInputError: fewer calibration images than that.
        """
        xc, _ = prepare_images(calib, self.resolution)
        need = self.calib_batches * self.batch_size
        if len(xc) < need:
            raise SupernetInputError(f"need {need} calibration images, got {len(xc)}")
        pick = np.random.default_rng(self.seed + 2).choice(len(xc), need, replace=False)
        xc = xc[torch.from_numpy(pick)].view(self.calib_batches, self.batch_size, *xc.shape[1:])
        xh, yh = prepare_images(heldout, self.resolution)
        return xc, xh[: self.eval_images], yh[: self.eval_images]

    def estimate_prepared(
        self, archs: Sequence[Arch], xc: torch.Tensor, xh: torch.Tensor, yh: torch.Tensor, *, batch: int = 1000
    ) -> np.ndarray:
        """:meth:`estimate` on prepared tensors: ``xc`` ``[k, b, 3, r, r]``, ``xh`` ``[n, 3, r, r]``, ``yh`` ``[n]``."""
        self._check_fitted()
        out = np.empty(len(archs))
        dev = getattr(self, "device_", torch.device("cpu"))
        xc, xh, yh = xc.to(dev), xh.to(dev), yh.to(dev)
        with torch.no_grad():
            for i, a in enumerate(archs):
                if a.space != self.space:
                    raise SupernetInputError(f"the supernet scores {self.space} cells, got one of {a.space!r}")
                self.recalibrate(a.ops, xc)
                correct = 0
                for j in range(0, len(xh), batch):
                    correct += int((self.net_(xh[j : j + batch], a.ops).argmax(1) == yh[j : j + batch]).sum())
                out[i] = 100.0 * correct / len(xh)
        return out

    # -- persistence ------------------------------------------------------------------
    def get_state(self) -> ArtifactState:
        """Trained weights and what scoring needs (pickle-free)."""
        self._check_fitted()
        arrays = {k: v.detach().cpu().numpy().copy() for k, v in self.net_.state_dict().items()}
        meta = {"num_classes": self.num_classes_, "classes": list(self.classes_), "step": self.step_,
                "train_seconds": self.train_seconds_, "finished": self.finished_}  # fmt: skip
        return ArtifactState(meta=meta, arrays=arrays)

    def set_state(self, state: ArtifactState) -> None:
        """Restore :meth:`get_state`'s output."""
        m = state.meta
        self._build(int(m["num_classes"]))
        self.net_.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.arrays.items()})
        self.net_.eval()
        self.classes_ = tuple(m["classes"])
        self.step_, self.train_seconds_, self.finished_ = int(m["step"]), float(m["train_seconds"]), bool(m["finished"])
        self.fitted_ = True


def restore_supernet(
    kind: str, params: dict[str, Any], state: ArtifactState, record: Any, data: Any
) -> OneShotSupernet:
    if kind != OneShotSupernet.name:
        raise SupernetInputError(f"unknown supernet kind {kind!r}; valid: {OneShotSupernet.name}")
    sn = OneShotSupernet(**params)
    sn.set_state(state)
    return sn


__all__ = ["SAMPLINGS", "OneShotSupernet", "SupernetInputError"]
