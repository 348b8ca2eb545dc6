"""Evaluation by training from scratch: the ground truth where no table exists."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from archgen.arch import Arch
from archgen.evaluators.base import EvalResult, Evaluator
from archgen.spaces import get_space
from archgen.tasks.images import check_image_task
from archgen.training.trainer import TrainingParams, train_architecture

if TYPE_CHECKING:
    from archgen.context import Workspace


class TrainingEvaluator(Evaluator):
    """Each architecture trained from scratch (:func:`archgen.training.trainer.train_architecture`): its test
    accuracy (%), charged the training seconds; cached per architecture.

    Args:
        data: Workspace the task's images come from.
        task: ``cifar10``, ``cifar10-valid`` or a registered user task.
        workdir: Where each run's checkpoint and weights go (``<workdir>/<index>``; default: a temporary directory).
        **schedule: :class:`~archgen.training.trainer.TrainingParams` fields (epochs, batch_size, C, N, ...).
    """

    name: ClassVar[str] = "training"
    space = "nb201"
    objective = "test_acc"

    def __init__(self, data: Workspace, task: str = "cifar10", *, workdir: Path | None = None, **schedule: Any) -> None:
        super().__init__()
        check_image_task(data, task, "task with images to train on")
        TrainingParams(
            arch="|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", task=task, **schedule
        )  # checks the fields
        self.data, self.task, self.schedule = data, task, dict(schedule)
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="archgen-train-"))
        self.source = f"training:{task}@{schedule.get('epochs', 200)}ep"
        self._cache: dict[Arch, dict[str, Any]] = {}

    def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
        sp = get_space("nb201")
        out = []
        for a in archs:
            cost = 0.0
            if a not in self._cache:
                p = TrainingParams(arch=sp.format(a), task=self.task, **self.schedule)
                self._cache[a] = train_architecture(p, self.data, self.workdir / str(len(self._cache)))
                cost = float(self._cache[a]["seconds"])
            r = self._cache[a]
            out.append(EvalResult(a, r["test_acc"], {self.objective: r["test_acc"]}, cost, self.source,
                                  fidelity=int(self.schedule.get("epochs", 200))))  # fmt: skip
        return out

    def reset(self) -> None:
        super().reset()
        self._cache.clear()


__all__ = ["TrainingEvaluator"]
