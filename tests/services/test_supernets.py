"""A task's supernet as a stored artifact: training it, finding the newest, sharing its evaluator, the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from archgen.errors import NoSupernetError, SupernetInputError, UnknownNameError
from archgen.services.supernets import (
    SUPERNET_CHECKPOINT,
    SupernetParams,
    check_supernet_request,
    supernet_evaluator,
    supernet_records,
    task_supernet,
    train_supernet,
)
from tests.tasks.folders import image_folder

TINY = {"minutes": 0.05, "epochs": 2, "batch_size": 16, "C": 4, "N": 1, "resolution": 8, "calib_batches": 2,
        "eval_images": 30}  # fmt: skip


@pytest.fixture(scope="module")
def task(ws, tmp_path_factory: pytest.TempPathFactory) -> str:
    name = "supernet-pets"
    if name not in ws.tasks:
        ws.tasks.add(name, image_folder(ws, tmp_path_factory.mktemp("f") / "pets", per_class=25))
    return name


def test_train_stores_a_supernet_of_the_task_and_the_newest_serves(ws, task: str, tmp_path: Path) -> None:
    with pytest.raises(NoSupernetError, match="no trained supernet"):
        task_supernet(ws, task)
    seen: list[float] = []
    rec = train_supernet(SupernetParams(task=task, **TINY), ws, ws.models, tmp_path / "a", model_id="sn-a",
                         on_progress=lambda f, _m: seen.append(f))  # fmt: skip
    assert rec.artifact_type == "supernet" and rec.task == task and rec.data_sources["images"].startswith("task-")
    assert rec.heldout["steps"] > 0 and seen and not (tmp_path / "a" / SUPERNET_CHECKPOINT).exists()
    rec2 = train_supernet(SupernetParams(task=task, seed=1, **TINY), ws, ws.models, tmp_path / "b", model_id="sn-b")
    assert [r.id for r in supernet_records(ws.models, task)][:2] in (["sn-b", "sn-a"], ["sn-a", "sn-b"])
    assert task_supernet(ws, task)[1].id == supernet_records(ws.models, task)[0].id
    assert task_supernet(ws, task, "sn-a")[1].id == "sn-a"
    with pytest.raises(UnknownNameError):
        task_supernet(ws, "cifar10", rec2.id)  # a supernet of another task


def test_evaluators_share_values_but_count_their_own_queries(ws, task: str, tmp_path: Path) -> None:
    train_supernet(SupernetParams(task=task, **TINY), ws, ws.models, tmp_path, model_id="sn-shared")
    a, b = supernet_evaluator(ws, task, "sn-shared"), supernet_evaluator(ws, task, "sn-shared")
    archs = ws.space("nb201").sample(3, __import__("numpy").random.default_rng(0))
    ra = a.evaluate(archs)
    rb = b.evaluate(archs)
    assert [r.value for r in ra] == [r.value for r in rb]
    assert a.queries == b.queries == 3
    assert all(r.cost > 0 for r in rb)  # charged the seconds it took, though computed for the other search
    assert all(r.cost == 0 for r in b.evaluate(archs[:1]))  # a repeat within one search is free


def test_requests_the_task_cannot_serve_are_refused(ws, task: str) -> None:
    with pytest.raises(UnknownNameError, match="supernet-pets"):
        check_supernet_request(SupernetParams(task="no-such-task"), ws)
    with pytest.raises(SupernetInputError, match="lower batch_size"):
        check_supernet_request(SupernetParams(task=task, batch_size=128), ws)  # 60 training images


def test_a_fresh_process_loads_a_stored_supernet_after_the_composition_root(ws, task: str, tmp_path: Path) -> None:
    """A fresh process that imports ``archgen.composition`` (as the CLI, the service and workers do) loads a stored
    supernet; one that imports the store alone is told to (the store imports none of its artifact types)."""
    import subprocess
    import sys

    train_supernet(SupernetParams(task=task, **TINY), ws, ws.models, tmp_path, model_id="sn-fresh")
    load = "sn, rec = ArtifactStore(sys.argv[1]).load('sn-fresh', artifact_type='supernet'); print(rec.task)"
    for prelude, ok in (("import archgen.composition; ", True), ("", False)):
        code = f"import sys; {prelude}from archgen.artifacts import ArtifactStore; {load}"
        out = subprocess.run(
            [sys.executable, "-c", code, str(ws.paths.model_dir)], capture_output=True, text=True, timeout=300
        )
        if ok:
            assert out.returncode == 0, out.stderr
            assert out.stdout.strip() == task
        else:
            assert out.returncode != 0 and "import archgen.composition" in out.stderr
