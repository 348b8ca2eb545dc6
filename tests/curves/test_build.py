"""Building a curve table of a registered task: a ``check`` that raises stops the build between trainings with
every finished training kept, and building again continues to the planned trainings without training a finished
one again; a task without a test split and a bad schedule are refused before any training."""

from __future__ import annotations

import pytest

from archgen.context import Paths, workspace
from archgen.curves import build
from archgen.curves.table import CurveTable
from archgen.errors import BenchInputError, TrainingInputError, UnknownNameError
from archgen.services.curve_tables import check_curve_table


class Stop(Exception):
    pass


def test_a_stopped_build_keeps_its_trainings_and_continues(ws, tmp_path, monkeypatch) -> None:
    data = workspace(Paths.of(ws.paths.data_dir, ws.paths.cache_dir, tmp_path / "home"))
    build.make_curve_task(data, "tiny", build.CURVE_TASKS["tiny"], tmp_path / "images")
    sched = build.CURVE_TASKS["tiny"].schedule()
    out = tmp_path / "t.npz"
    calls = {"n": 0}
    seen: list[float] = []

    def check() -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # after two trainings were started (one worker: the first has finished)
            raise Stop

    kw = {"cells": 2, "c10_top": 1, "top": 0, "seeds": 2, "workers": 1}
    with pytest.raises(Stop):
        build.build_table(data, "tiny", sched, out, tmp_path, check=check, **kw)
    part = CurveTable.load(out).progress()["trainings"]
    assert 1 <= part <= 2
    trained: list[tuple[str, int]] = []
    real = build.train_architecture

    def counting(p, *a, **k):
        trained.append((p.arch, p.seed))
        return real(p, *a, **k)

    monkeypatch.setattr(build, "train_architecture", counting)
    done = build.build_table(data, "tiny", sched, out, tmp_path, on_progress=lambda f, m: seen.append(f), **kw)
    assert done.progress()["trainings"] == build.planned(done, 0) == 6 and done.complete().all()
    assert len(trained) == 6 - part and seen[-1] == 1.0 and seen == sorted(seen)


def test_bad_requests_are_refused_before_any_training(ws, tmp_path) -> None:
    data = workspace(Paths.of(ws.paths.data_dir, ws.paths.cache_dir, tmp_path / "home"))
    build.make_curve_task(data, "tiny", build.CURVE_TASKS["tiny"], tmp_path / "images")
    sched = build.CURVE_TASKS["tiny"].schedule()
    with pytest.raises(BenchInputError, match="unknown task 'nope'"):
        build.build_table(data, "nope", sched, tmp_path / "t.npz", tmp_path)
    with pytest.raises(BenchInputError, match="cells must be in"):
        build.build_table(data, "tiny", sched, tmp_path / "t.npz", tmp_path, cells=1)
    with pytest.raises(Exception, match="batch_size"):
        build.build_table(data, "tiny", sched | {"batch_size": 0}, tmp_path / "t.npz", tmp_path)
    data.tasks.add("no-test", tmp_path / "images", image_size=8, test_fraction=0.0)
    with pytest.raises(TrainingInputError, match="no test split"):
        check_curve_table(build.CurveTableParams(task="no-test", epochs=1, C=4, batch_size=8), data, 2**34)
    with pytest.raises(UnknownNameError, match="unknown registered task of yours .*'cifar10'; valid: .*tiny"):
        check_curve_table(build.CurveTableParams(task="cifar10"), data, 2**34)
    with pytest.raises(TrainingInputError, match="batch_size"):
        check_curve_table(build.CurveTableParams(task="tiny", batch_size=1000), data, 2**34)
    assert not (tmp_path / "t.npz").exists()
