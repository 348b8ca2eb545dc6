"""Evaluation by training from scratch: the ground truth where no table exists."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from archgen.arch import Arch
from archgen.errors import BudgetSpentError, TrainingInputError
from archgen.evaluators.base import EvalResult, Evaluator
from archgen.spaces import get_space
from archgen.tasks.images import check_image_task
from archgen.training.data import auto_device
from archgen.training.trainer import PROVENANCE, TrainingParams, curve_result, train_architecture

if TYPE_CHECKING:
    from archgen.context import Workspace
    from archgen.evaluators.budget import CostMeter


#: Seconds between two looks of a training at its search's budget (:class:`~archgen.evaluators.budget.CostMeter`).
METER_EVERY = 0.1


class TrainingEvaluator(Evaluator):
    """Each architecture trained from scratch (:func:`archgen.training.trainer.train_architecture`): its accuracy
    (%) on the task's held-out split, named for it (:attr:`objective`: ``val_acc`` on a user task or
    ``cifar10-valid``, ``test_acc`` on ``cifar10``), charged the run's wall seconds (set-up, steps, validation);
    cached per architecture. A user task's test accuracy is in ``values["test_acc"]`` (never the value: nothing
    selects by it).

    ``stop_epoch``: the fidelity is that epoch of the schedule (``epochs``): the run stops there, checkpointed, and
    an evaluator of a later epoch over the same ``workdir`` and schedule continues the same run, paying only its
    new epochs (as ASHA and Hyperband with checkpoints do).

    Each run has its own directory under ``workdir``, named by the run's parameters (:meth:`run_dir`): a run cut
    short (a kill, a cancel) continues from its checkpoint when asked again, and a finished run found there is
    read back, not trained again; either way its training seconds are charged once, when it first returns.

    Args:
        data: Workspace the task's images come from.
        task: ``cifar10``, ``cifar10-valid`` or a registered user task.
        workdir: Where each run's checkpoint and weights go (default: a temporary directory).
        on_progress: Called by every training as it goes (``fraction, message``); it may raise to stop the
            training (its checkpoint is written first).
        meter: The search's budget (:class:`~archgen.evaluators.budget.CostMeter`): each training is registered
            with it while it runs and stops once the budget is spent (checkpointed; its result is NaN with
            ``values["stopped"] == 1``, charged the seconds it used, and not cached: asked again, it continues).
        **schedule: :class:`~archgen.training.trainer.TrainingParams` fields (epochs, batch_size, C, N, ...).
    """

    name: ClassVar[str] = "training"
    space = "nb201"
    objective = "test_acc"
    uses_gpu: ClassVar[bool] = True

    def __init__(
        self,
        data: Workspace,
        task: str = "cifar10",
        *,
        workdir: Path | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        meter: CostMeter | None = None,
        stop_epoch: int | None = None,
        **schedule: Any,
    ) -> None:
        super().__init__()
        check_image_task(data, task, "task with images to train on")
        p = TrainingParams(arch="|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", task=task, **schedule)  # checks
        if stop_epoch is not None and not (isinstance(stop_epoch, int) and 1 <= stop_epoch <= p.epochs):
            raise TrainingInputError(f"stop_epoch must be in 1..{p.epochs} (the schedule's epochs), got {stop_epoch}")
        self.data, self.task, self.schedule = data, task, dict(schedule)
        self.stop_epoch = None if stop_epoch == p.epochs else stop_epoch
        self.fidelity = stop_epoch or p.epochs
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="archgen-train-"))
        self.on_progress = on_progress
        self.meter = meter
        self.objective = "test_acc" if task == "cifar10" else "val_acc"
        at = f"{self.fidelity}/{p.epochs}ep" if self.stop_epoch else f"{p.epochs}ep"
        self.source = f"training:{task}@{at}"
        self._cache: dict[Arch, dict[str, Any]] = {}

    @staticmethod
    def on_gpu() -> bool:
        """Whether trainings here run on a CUDA GPU."""
        return auto_device().type == "cuda"

    def params(self, arch: Arch) -> TrainingParams:
        """The training run of ``arch``."""
        return TrainingParams(arch=get_space("nb201").format(arch), task=self.task, **self.schedule)

    def run_dir(self, arch: Arch) -> Path:
        """Where ``arch``'s run keeps its checkpoint, weights and provenance (named by the run's parameters)."""
        p = self.params(arch)
        key = hashlib.sha256(json.dumps(p.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:20]
        return self.workdir / key

    def _train(self, arch: Arch) -> dict[str, Any]:
        p, path = self.params(arch), self.run_dir(arch)
        prov = path / PROVENANCE
        if prov.is_file():  # finished before (e.g. by a search killed before it recorded the result)
            try:
                done = json.loads(prov.read_text())
                if done.get("request") == p.model_dump(mode="json"):
                    done = {k: v for k, v in done.items() if k not in ("request", "versions", "format")}
                    if self.stop_epoch is None:
                        return done
                    row = curve_result(done.get("curve", []), self.stop_epoch)
                    if row is not None:  # its earlier epoch, paid when it was trained: nothing to charge
                        return {"heldout_acc": row["heldout_acc"], "test_acc": row["test_acc"], "wall_seconds": 0.0}
            except (OSError, ValueError):
                pass  # unreadable: train again
        meter, user = self.meter, self.on_progress
        stop = self.stop_epoch
        if meter is None:
            return train_architecture(p, self.data, path, on_progress=user, stop_epoch=stop)

        told = [0.0]

        def hook(fraction: float, message: str) -> None:
            now = time.monotonic()
            if user is not None and (now - told[0] >= 1.0 or fraction >= 1.0):
                told[0] = now
                user(fraction, message)
            meter.check()

        token, started = meter.begin(), time.monotonic()
        try:
            meter.check()  # nothing starts past the budget
            # the budget is looked at every METER_EVERY seconds: a training stops that soon after it runs out
            return train_architecture(p, self.data, path, on_progress=hook, report_every=METER_EVERY, stop_epoch=stop)
        except BudgetSpentError:
            return {"heldout_acc": float("nan"), "wall_seconds": time.monotonic() - started, "stopped": True}
        finally:
            meter.end(token)

    def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
        out = []
        for a in archs:
            cost = 0.0
            r = self._cache.get(a)
            if r is None:
                r = self._train(a)
                cost = float(r.get("wall_seconds", r.get("seconds", 0.0)))
                if not r.get("stopped"):
                    self._cache[a] = r
            value = float(r.get("heldout_acc", r.get("test_acc", float("nan"))))  # a run read back from before
            values = {self.objective: value} | ({"stopped": 1.0} if r.get("stopped") else {})
            if self.objective != "test_acc" and r.get("test_acc") is not None:
                values["test_acc"] = float(r["test_acc"])  # reported, never selected by
            out.append(EvalResult(a, value, values, cost, self.source, fidelity=self.fidelity))
        return out

    def reset(self) -> None:
        super().reset()
        self._cache.clear()

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["on_progress"] = None  # a callback of this process: a copy on a Ray worker trains to its end
        state["meter"] = None  # likewise: the loop's admission bounds what a Ray batch spends
        return state


__all__ = ["TrainingEvaluator"]
