"""Tasks without a table: a user's labelled image folder, registered under a name (``archgen tasks add``,
``POST /v1/tasks``), and the one resolver from a task name to its images."""

from archgen.tasks.images import (
    BUILTIN_IMAGE_TASKS,
    TaskImages,
    check_image_task,
    image_task_names,
    is_user_task,
    task_images,
)
from archgen.tasks.resolve import ResolvedTask, resolve_task
from archgen.tasks.store import TaskError, TaskExistsError, TaskRecord, TaskStore, check_task_name

__all__ = [
    "BUILTIN_IMAGE_TASKS",
    "ResolvedTask",
    "TaskError",
    "TaskExistsError",
    "TaskImages",
    "TaskRecord",
    "TaskStore",
    "check_image_task",
    "check_task_name",
    "image_task_names",
    "is_user_task",
    "resolve_task",
    "task_images",
]
