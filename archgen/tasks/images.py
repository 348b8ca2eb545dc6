"""Which images a task name stands for: CIFAR-10's built-in tasks, or a registered user task.

One resolver for every consumer (zero-cost proxies, the training evaluator, supernets), so that a task name
means the same images everywhere:

* ``cifar10``: train on CIFAR-10's 50,000 training images, measure on its 10,000 test images;
* ``cifar10-valid``: a stratified half of the training images and the other half (NB201's ``cifar10-valid``);
* a user task (:class:`~archgen.tasks.store.TaskStore`): its recorded train, validation and test split.

Every consumer trains on ``train`` and measures (and selects) on ``heldout``; a user task's ``test`` split is read
by the trainer alone, to report test accuracy beside the validation accuracy it selects by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from archgen.tasks.resolve import BUILTIN_IMAGE_TASKS, check_image_task, image_task_names, is_user_task

if TYPE_CHECKING:
    from archgen.context import Workspace
    from archgen.datasets.images import ImageArrayDataset


@dataclass(frozen=True)
class TaskImages:
    """The images of one task.

    Attributes:
        name: The task.
        train: Images to train (and recalibrate batch norm) on.
        heldout: Images accuracy is measured and selected on (never trained on).
        key: Identifies the images in cache keys (a user task's includes its arrays' checksum).
        user: Whether it is a user task (no benchmark table).
        heldout_split: What ``heldout`` is: ``"validation"`` (user tasks, ``cifar10-valid``) or ``"test"``
            (``cifar10``: its test set, as NB201's ``cifar10`` columns).
        test: A test split apart from ``heldout`` (a user task's), never trained or selected on; ``None``: none.
    """

    name: str
    train: ImageArrayDataset
    heldout: ImageArrayDataset
    key: str
    user: bool
    heldout_split: str = "validation"
    test: ImageArrayDataset | None = None

    @property
    def num_classes(self) -> int:
        return len(self.train.classes)

    @property
    def test_note(self) -> str | None:
        """Why there is no test accuracy apart from the held-out one (``None`` when there is one)."""
        if self.test is not None or self.heldout_split == "test":
            return None
        if self.user:
            return (f"task {self.name!r} has no test split (registered before test splits, or with test_fraction "
                    "0): only its validation accuracy, which selection used, is measured")  # fmt: skip
        return f"{self.name} has no test split here (NB201's cifar10-valid: validation only)"


def task_images(data: Workspace, task: str) -> TaskImages:
    """The images of ``task`` (module docstring); memoised per workspace and, for user tasks, per checksum.

    Raises:
        UnknownNameError: no such task (listing those with images).
        DataError: a user task's arrays are missing or corrupt.
    """
    check_image_task(data, task)
    if task in BUILTIN_IMAGE_TASKS:
        return data.memo(("task-images", task), lambda: _builtin(data, task))
    sha = data.tasks.record(task).arrays_sha256
    return data.memo(("task-images", task, sha), lambda: _user(data, task, sha))


def train_image_count(data: Workspace, task: str) -> int:
    """How many training images :func:`task_images` gives ``task``, without decoding any (a request's check)."""
    check_image_task(data, task)
    if task in BUILTIN_IMAGE_TASKS:
        return _BUILTIN_TRAIN[task]
    return data.tasks.record(task).train


def class_count(data: Workspace, task: str) -> int:
    """How many classes ``task`` has, without decoding any image."""
    check_image_task(data, task)
    if task in BUILTIN_IMAGE_TASKS:
        return 10
    return data.tasks.record(task).num_classes


def heldout_image_count(data: Workspace, task: str) -> int:
    """How many held-out images :func:`task_images` gives ``task`` (validation and test), without decoding any."""
    check_image_task(data, task)
    if task in BUILTIN_IMAGE_TASKS:
        return _BUILTIN_HELDOUT[task]
    rec = data.tasks.record(task)
    return rec.validation + rec.test


#: Held-out images of the built-in tasks (CIFAR-10's test set; the other half of its training images).
_BUILTIN_HELDOUT = {"cifar10": 10_000, "cifar10-valid": 25_000}
#: Training images of the built-in tasks (:func:`_builtin`'s splits of CIFAR-10's 50,000).
_BUILTIN_TRAIN = {"cifar10": 50_000, "cifar10-valid": 25_000}


def _builtin(data: Workspace, task: str) -> TaskImages:
    if task == "cifar10":
        train, held = data.cifar10("train"), data.cifar10("test")
    else:
        train, held = data.cifar10("train").split(0.5, seed=0)
    return TaskImages(task, train, held, "cifar10", False, "test" if task == "cifar10" else "validation")


def _user(data: Workspace, task: str, sha: str) -> TaskImages:
    train, val, test = data.tasks.datasets(task)
    return TaskImages(task, train, val, f"task-{task}-{sha[:12]}", True, "validation", test)


__all__ = [
    "BUILTIN_IMAGE_TASKS",
    "TaskImages",
    "check_image_task",
    "class_count",
    "heldout_image_count",
    "image_task_names",
    "is_user_task",
    "task_images",
    "train_image_count",
]
