"""``archgen bench new-task`` on a tiny recipe (2 classes of 12 images at 8x8, one epoch of a 4-channel cell): the
ground truth, the retrained cells, every ranker's tau, resuming without training again, refusals."""

from __future__ import annotations

import json

import pytest

from archgen.bench import new_task as bench
from archgen.context import Paths, workspace
from archgen.errors import BenchInputError
from archgen.evaluators import training as training_module
from archgen.services import task_prior as prior_service
from tests.cli.test_predictors_cli import cli

TINY = bench.Recipe(("cat", "ship"), 12, 8, True, epochs=1, C=4, N=1, batch_size=8)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch, ws, tmp_path):
    monkeypatch.setitem(bench.RECIPES, "tiny", TINY)
    monkeypatch.setattr(bench, "RANKER_PROXIES", ("synflow", "nwot", "params"))
    monkeypatch.setattr(prior_service, "REFERENCE_CELLS", 8)
    return workspace(Paths.of(ws.paths.data_dir, ws.paths.cache_dir, tmp_path / "home"))


@pytest.fixture
def trained(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The cells trained to their end here (not read back from the results file or a run directory)."""
    done: list[str] = []
    real = training_module.train_architecture

    def counting(p, data, workdir, **kw):
        done.append(p.arch)
        return real(p, data, workdir, **kw)

    monkeypatch.setattr(training_module, "train_architecture", counting)
    return done


def test_ground_truth_retrained_cells_and_every_rankers_tau_then_a_rerun_trains_nothing(tiny, trained, tmp_path):
    out = tmp_path / "truth.json"
    doc = bench.run(tiny, "tiny", out, tmp_path / "work", cells=10, top=2, c10_top=1, seeds=2, workers=2)
    rec = tiny.tasks.record("bench-tiny")
    assert rec.num_classes == 2 and rec.image_size == 8
    tr = doc["trainings"]
    assert sum(t["why"] == "random" and t["seed"] == 0 for t in tr) == 10
    assert sorted((t["why"], t["seed"]) for t in tr if t["why"] != "random") == [
        ("c10-top", 0), ("c10-top", 1), ("retrain", 1), ("retrain", 1)]  # fmt: skip
    assert len(trained) == len(tr) == 14 and all(t["wall_s"] > 0 and 0 <= t["acc"] <= 100 for t in tr)
    s = doc["summary"]
    names = {f"table:{t}/{m}" for t, m in prior_service.TRANSFER_COLUMNS} | {"zc:synflow", "zc:nwot", "zc:params"}
    assert set(s["tau"]) == names | {"vote", "prior"}
    assert all(v["all"] is None or -1 <= v["all"] <= 1 for v in s["tau"].values())
    best = sorted((t for t in tr if t["why"] == "random"), key=lambda t: -t["acc"])[:2]
    kept = {r["architecture"]: r for r in s["retrained"]}
    assert {b["architecture"] for b in best} <= set(kept) and all(kept[b["architecture"]]["n"] == 2 for b in best)
    assert json.loads(out.read_text())["summary"] == s
    again = bench.run(tiny, "tiny", out, tmp_path / "work", cells=10, top=2, c10_top=1, seeds=2, workers=2)
    assert len(trained) == 14 and again["trainings"] == tr  # resumed: nothing trained twice
    assert "| prior |" in bench.format_summary(again)


def test_a_results_file_of_another_run_or_an_unknown_task_is_refused(tiny, tmp_path, capsys):
    out = tmp_path / "truth.json"
    out.write_text(json.dumps({"format": bench.FORMAT, "recipe": {}, "cells": 10, "seed": 0, "trainings": []}))
    with pytest.raises(BenchInputError, match="another run"):
        bench.run(tiny, "tiny", out, tmp_path / "work", cells=10, top=2)
    with pytest.raises(BenchInputError, match="top must be in 0..10, got 15"):
        bench.run(tiny, "tiny", tmp_path / "z.json", tmp_path / "work", cells=10)
    with pytest.raises(BenchInputError, match="unknown new task 'nope'"):
        bench.run(tiny, "nope", tmp_path / "x.json", tmp_path / "work")
    code, _, err = cli(capsys, "bench", "new-task", "--task", "nope", "--out", str(tmp_path / "y.json"))
    assert code == 2 and "unknown new task 'nope'" in err and len(err.strip().splitlines()) == 1, err
