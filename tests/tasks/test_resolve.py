"""The task resolver: what a task name of a space has (a table's columns, images, a user task's folder)."""

from __future__ import annotations

import pytest

from archgen.errors import UnknownNameError
from archgen.supernets.store import supernet_records
from archgen.tasks.resolve import check_image_task, is_user_task, resolve_task
from tests.tasks.folders import image_folder


@pytest.fixture(scope="module")
def user_task(ws, tmp_path_factory: pytest.TempPathFactory) -> str:
    name = "resolve-pets"
    if name not in ws.tasks:
        ws.tasks.add(name, image_folder(ws, tmp_path_factory.mktemp("f") / "pets", per_class=12))
    return name


def test_a_benchmark_task_with_images(ws) -> None:
    t = resolve_task(ws, "nb201", "cifar10")
    assert t.published and not t.user and t.images
    assert t.default_target == ("cifar10-valid", "val_acc") and t.hardware_task == "cifar10"
    assert t.require_published() is ws.table("nb201")


def test_a_benchmark_task_without_images(ws) -> None:
    t = resolve_task(ws, "nb201", "cifar100")
    assert t.published and not t.images and t.default_target == ("cifar100", "test_acc")
    g = resolve_task(ws, "nasbench_graph", "cora")
    assert g.published and not g.user and g.default_target is not None


def test_a_user_task_has_images_and_no_published_values(ws, user_task: str) -> None:
    t = resolve_task(ws, "nb201", user_task)
    assert t.user and t.images and not t.published and t.default_target is None
    assert t.hardware_task == "cifar10"  # the same NB201 networks at 32x32
    with pytest.raises(UnknownNameError, match="published values") as e:
        t.require_published()
    assert "cifar100" in str(e.value)
    assert is_user_task(ws, user_task) and not is_user_task(ws, "cifar10")
    check_image_task(ws, user_task)  # no error
    assert supernet_records(ws.models, user_task) == []


def test_unknown_names_list_the_valid_ones(ws, user_task: str) -> None:
    with pytest.raises(UnknownNameError) as e:
        resolve_task(ws, "nb201", "mnist")
    assert "cifar100" in str(e.value) and user_task in str(e.value)
    with pytest.raises(UnknownNameError, match="nb201"):
        resolve_task(ws, "no-such-space", "cifar10")
    with pytest.raises(UnknownNameError, match="task with images"):
        check_image_task(ws, "cifar100")
