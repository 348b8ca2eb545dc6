"""Training searches on real (tiny) trainings: a user task of 90 CIFAR-10 images (3 classes) at 8x8, a 4-channel
one-cell network, one-epoch fidelities on 32 and 72 images; the kill-and-resume contract; the prior's pool; bad
requests."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from archgen.errors import SearchInputError, TrainingInputError, UnknownNameError
from archgen.evaluators import training as training_module
from archgen.services import task_prior as prior_service
from archgen.services import training_search as service
from archgen.services.search import SearchParams, check_search, execute_search, report
from archgen.training.trainer import PROVENANCE, WEIGHTS
from tests.tasks.folders import image_folder

TASK = "search-pets"
TINY = {"C": 4, "N": 1, "resolution": 8, "batch_size": 16}
FIDELITIES = [{"epochs": 1, "train_images": 32}, {"epochs": 1}]


@pytest.fixture(scope="module", autouse=True)
def task(ws, tmp_path_factory: pytest.TempPathFactory) -> str:
    if TASK not in ws.tasks:  # no test split (as a task registered before them): its results say so
        ws.tasks.add(TASK, image_folder(ws, tmp_path_factory.mktemp("f") / "pets", per_class=30), test_fraction=0.0)
    return TASK


def params(**kw) -> SearchParams:
    base = {"task": TASK, "evaluator": "training", "strategy": "sh", "prior": "none", "budget_minutes": 0.1,
            "fidelities": FIDELITIES, "schedule": TINY, "seed": 3}  # fmt: skip
    return SearchParams(**(base | kw))


class _Kill(Exception):
    pass


def _killed(ws, plan, ckpt, at: int) -> None:
    """Run the search until the ``at``-th look inside its trainings, where it dies as a kill -9 would find it."""
    calls = {"n": 0}

    def kill() -> None:
        calls["n"] += 1
        if calls["n"] == at:
            raise _Kill

    ckpt.parent.mkdir()
    with pytest.raises(_Kill):
        execute_search(plan, ws, checkpoint=ckpt, check=kill)


@pytest.fixture
def finished_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The work directory of every training that ran to its end (trained here, not read back)."""
    done: list[str] = []
    real = training_module.train_architecture

    def counting(p, data, workdir, **kw):
        out = real(p, data, workdir, **kw)
        done.append(workdir.name)
        return out

    monkeypatch.setattr(training_module, "train_architecture", counting)
    return done


def test_a_tiny_search_spends_its_budget_on_trainings_and_returns_the_best_with_weights(ws, tmp_path) -> None:
    plan = check_search(params(final_epochs=2), ws)
    h = execute_search(plan, ws, checkpoint=tmp_path / "history.json")
    # a cap: never much past it; it ends early only where the next training asked for does not fit what is left
    assert h.finished and h.budget_unit == "seconds" and h.spent() <= 6.0 + 1.0
    assert h.spent() >= 5.0 or "could not pay" in h.result.get("stop", "")
    assert {e.fidelity for e in h.evaluations} == {0, 1}
    assert all(e.cost > 0 and 0 <= e.value <= 100 for e in h.evaluations)
    res = h.result
    assert res["best"]["fidelity"] == "1ep" and res["best"]["architecture"] == h.best().architecture
    assert (tmp_path / res["best"]["run"] / WEIGHTS).is_file()
    final = res["final"]
    assert final["epochs"] == 2 and (tmp_path / final["run"] / WEIGHTS).is_file()
    for shown in (res["best"], final):  # the validation figure, named; no test split: said, never stood in for
        assert shown["selected_by"] == "val_acc" and shown["val_acc"] == shown["value"] and shown["test_acc"] is None
        assert "no test split" in shown["test_note"]
    prov = json.loads((tmp_path / final["run"] / PROVENANCE).read_text())
    assert prov["arch"] == res["best"]["architecture"] and prov["train_images"] == 72 and prov["epochs"] == 2
    rep = report(h, limit=0)
    assert rep["best"]["fidelity"] == "1ep" and [f["label"] for f in rep["fidelities"]] == ["1ep/32img", "1ep"]
    assert sum(f["trainings"] for f in rep["fidelities"]) == len(h.evaluations)


def test_killed_in_a_batch_of_trainings_it_resumes_to_the_same_result_paying_no_training_twice(
    ws, tmp_path, finished_runs
) -> None:
    full = execute_search(check_search(params(), ws), ws, checkpoint=tmp_path / "full" / "history.json")
    finished_runs.clear()
    ckpt = tmp_path / "cut" / "history.json"
    _killed(ws, check_search(params(batch_size=1), ws), ckpt, 7)  # inside a training of the third batch
    before = list(finished_runs)
    cut = json.loads(ckpt.read_text())
    assert not cut["finished"] and list((ckpt.parent / "runs").glob("*/checkpoint.npz"))  # one training in flight
    resumed = execute_search(check_search(params(batch_size=1), ws), ws, checkpoint=ckpt)
    assert len(finished_runs) == len(set(finished_runs))  # every training ran to its end once
    assert not set(before) & set(finished_runs[len(before) :])
    # the budget is measured seconds, so either run may end a batch earlier: the same trainings in the same order
    # as far as both went, each with the uninterrupted value (the one in flight resumed from its checkpoint)
    n = min(len(resumed.evaluations), len(full.evaluations))
    assert n >= 4
    assert [(e.architecture, e.fidelity) for e in resumed.evaluations[:n]] == [
        (e.architecture, e.fidelity) for e in full.evaluations[:n]
    ]
    both = [(a.value, b.value) for a, b in zip(resumed.evaluations[:n], full.evaluations[:n], strict=True)
            if np.isfinite(a.value) and np.isfinite(b.value)]  # fmt: skip  # (not a last training the budget stopped)
    assert len(both) >= n - 2 and [a for a, _ in both] == pytest.approx([b for _, b in both])


def test_a_prior_search_starts_from_the_prior_s_top_cells(ws, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "POOL_TOP", 6)
    monkeypatch.setattr(service, "POOL_RANDOM", 2)
    monkeypatch.setattr(prior_service, "REFERENCE_CELLS", 12)
    monkeypatch.setattr(service, "POOL_SHARE", 0.5)
    monkeypatch.setattr(service, "POOL_CELL_SECONDS", 0.05)  # the scores are cached before the search
    plan = check_search(params(strategy=None, prior=None), ws)
    assert plan.training.strategy == "priorband" and plan.training.prior == "transfer"
    # scored once without a deadline (the scores are cached): the search's own share then holds the whole pool
    model, setup = service.build_pool_model(ws, dataclasses.replace(plan.training, budget_seconds=600.0))
    assert setup["cells"] == len(model.pool) == 8 and not setup["note"]
    mean, _ = model.posterior([], [])
    top = ws.space("nb201").format(model.pool[int(np.argmax(mean))])
    h = execute_search(plan, ws, checkpoint=tmp_path / "history.json")
    assert h.evaluations[0].architecture == top  # the prior's best cell first, and through every rung
    assert [e.fidelity for e in h.evaluations if e.architecture == top][:2] == [0, 1]
    assert h.overhead > 0 and set(h.result["prior_weights"]) == {"transfer", "zero-cost"}


def test_the_default_search_compares_its_finalists_on_two_seeds(ws, tmp_path, monkeypatch) -> None:
    """priorband: the highest fidelity's winners are trained again with the search's seed + 1 (a run of its own),
    and the best is the best mean of the two."""
    monkeypatch.setattr(service, "POOL_TOP", 6)
    monkeypatch.setattr(service, "POOL_RANDOM", 2)
    monkeypatch.setattr(prior_service, "REFERENCE_CELLS", 12)
    monkeypatch.setattr(service, "POOL_SHARE", 0.5)
    monkeypatch.setattr(service, "POOL_CELL_SECONDS", 0.05)
    plan = check_search(params(strategy=None, prior=None, budget_minutes=None, budget_trainings=80), ws)
    h = execute_search(plan, ws, checkpoint=tmp_path / "history.json")
    reps = [e for e in h.evaluations if e.fidelity == 2]
    assert reps and all(e.values["replicates"] == 2 for e in reps)
    firsts = {e.architecture: e.value for e in h.evaluations if e.fidelity == 1}
    assert all(e.architecture in firsts for e in reps)
    assert h.best().fidelity == 2 and h.result["best"]["fidelity"] == "1ep, mean of 2 seeds"
    assert h.result["budget_trainings"] == 80 and h.result["spent_trainings"] <= 80 * 1.2
    run = tmp_path / h.result["best"]["run"]
    assert (run / WEIGHTS).is_file() and json.loads((run / PROVENANCE).read_text())["request"][
        "seed"
    ] == 4  # the replicate's


def test_a_replicate_is_admitted_at_the_cost_of_a_whole_training(ws, tmp_path, monkeypatch) -> None:
    """Where the highest fidelity continues the run below it, its own expected cost is only its new epochs; a
    replicate trains from scratch and must be expected to cost a whole training."""
    monkeypatch.setattr(service, "POOL_TOP", 6)
    monkeypatch.setattr(service, "POOL_RANDOM", 2)
    monkeypatch.setattr(prior_service, "REFERENCE_CELLS", 12)
    monkeypatch.setattr(service, "POOL_SHARE", 0.5)
    monkeypatch.setattr(service, "POOL_CELL_SECONDS", 0.05)
    seen: dict = {}

    def spy(*a, **kw):
        seen.update(kw)
        raise _Kill

    monkeypatch.setattr(service, "run_multifidelity_search", spy)
    plan = check_search(params(strategy=None, prior=None, budget_minutes=None, budget_trainings=80,
                               fidelities=[{"epochs": 1}, {"epochs": 2}]), ws)  # fmt: skip
    with pytest.raises(_Kill):
        execute_search(plan, ws, checkpoint=tmp_path / "history.json")
    costs = seen["expected_costs"]
    assert len(costs) == 3 and costs[1] < plan.training.full_seconds  # the 2-epoch rung pays its second epoch only
    assert costs[2] == plan.training.full_seconds


def test_a_library_scheduler_searches_on_real_trainings(ws, tmp_path) -> None:
    h = execute_search(check_search(params(strategy="optuna-tpe-hb"), ws), ws, checkpoint=tmp_path / "h.json")
    assert h.finished and h.strategy == "optuna-tpe-hb" and h.evaluations and h.best() is not None
    assert {e.fidelity for e in h.evaluations} <= {0, 1}


@pytest.mark.parametrize(
    ("kw", "error", "words"),
    [
        ({"task": "cifar100"}, UnknownNameError, "task with images"),
        ({"space": "nasbench_graph"}, SearchInputError, "trains NB201 cells"),
        ({"budget_minutes": None}, SearchInputError, "needs budget_minutes"),
        ({"budget_minutes": None, "budget_trainings": 0.001}, SearchInputError, "one full training is about"),
        ({"fidelities": [{"epochs": 2}, {"epochs": 1}]}, SearchInputError, "cheapest first"),
        ({"fidelities": [{"epochs": 1}, {"epochs": 1, "train_images": 72}]}, SearchInputError, "cheapest first"),
        ({"fidelities": [{"epochs": 1, "train_images": 500}]}, SearchInputError, "asks for 500 training images"),
        ({"fidelities": [{"epochs": 1, "train_images": 1}], "schedule": TINY | {"batch_size": 1}}, SearchInputError,
         "stratified 1 over 3 classes"),
        ({"batch_size": 33}, SearchInputError, "batch_size"),
        ({"budget_minutes": 0.0001}, SearchInputError, "budget too small to train one cell at the first fidelity"),
        ({"final_epochs": 1, "fidelities": [{"epochs": 3}]}, SearchInputError, "final_epochs"),
        ({"strategy": "bo"}, UnknownNameError, "prior-sh"),
        ({"strategy": "prior-sh", "prior": "none"}, SearchInputError, "draws from a prior"),
        ({"strategy": "sh", "prior": "transfer"}, SearchInputError, "takes no prior"),
        ({"metric": "val_acc"}, SearchInputError, "metric is not available"),
        ({"schedule": TINY | {"batch_size": 64}}, SearchInputError, "larger than"),
    ],
)  # fmt: skip
def test_bad_requests_name_the_problem_before_any_training(ws, kw, error, words) -> None:
    with pytest.raises(error, match=words):
        check_search(params(**kw), ws)


def test_the_memory_bound_is_checked_for_every_training(ws) -> None:
    with pytest.raises(TrainingInputError, match="lower batch_size"):
        check_search(params(final_epochs=3), ws, max_memory=1 << 20)


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"budget": 10}, "budget_minutes or budget_trainings, not budget"),
        ({"budget_trainings": 3}, "not both"),
        ({"budget_minutes": None, "budget_trainings": 0}, "greater than 0"),
        ({"budget_minutes": 0}, "greater than 0"),
        ({"budget_minutes": float("nan")}, "finite number"),
        ({"fidelities": []}, "at least 1 item"),
        ({"fidelities": [{"epochs": 0}]}, "greater than or equal to 1"),
        ({"fidelities": [{"epochs": 2, "images": 5}]}, "Extra inputs"),
        ({"final_epochs": 5000}, "less than or equal to 1000"),
    ],
)
def test_malformed_requests_fail_validation(kw, words) -> None:
    with pytest.raises(ValueError, match=words):
        params(**kw)


def test_a_budget_in_full_trainings_is_that_many_expected_full_trainings(ws) -> None:
    plan = check_search(params(budget_minutes=None, budget_trainings=4), ws).training
    assert plan.budget_trainings == 4 and plan.full_seconds > 0
    assert plan.budget_seconds == pytest.approx(4 * plan.full_seconds)
    assert plan.full_seconds >= sum(plan.expected_seconds[-1:])  # the highest fidelity's run, all its epochs


@pytest.mark.parametrize("field", ["budget_minutes", "budget_trainings", "fidelities", "final_epochs"])
def test_training_fields_are_refused_without_the_training_evaluator(field) -> None:
    value = {"budget_minutes": 5, "budget_trainings": 5, "fidelities": FIDELITIES, "final_epochs": 5}[field]
    with pytest.raises(ValueError, match=f"{field} go with evaluator 'training'"):
        SearchParams(task="cifar10", **{field: value})


def test_trainings_on_a_local_ray_cluster_give_the_threads_result(ws, tmp_path, monkeypatch) -> None:
    """Each training of a batch is a Ray task (the evaluator shipped without its in-process callback; a GPU asked
    for only where the cluster has one): the same history as on threads."""
    pytest.importorskip("ray")
    from archgen.search.parallel import Workers

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with Workers(2) as w:
        local = execute_search(check_search(params(budget_minutes=0.3), ws), ws, checkpoint=tmp_path / "t" / "h.json",
                               workers=w)  # fmt: skip
    with Workers(ray_address="local", num_cpus=2) as w:
        assert w.backend == "ray"  # a Ray task's first training also pays the worker's imports: more seconds each
        remote = execute_search(check_search(params(budget_minutes=0.3), ws), ws, checkpoint=tmp_path / "r" / "h.json",
                                workers=w)  # fmt: skip
    key = lambda h: [(e.architecture, e.fidelity, round(e.value, 6)) for e in h.evaluations]
    n = min(len(local.evaluations), len(remote.evaluations))  # the budget is measured seconds: counts may differ
    assert n >= 4 and key(remote)[:n] == key(local)[:n]
    assert (tmp_path / "r" / remote.result["best"]["run"] / WEIGHTS).is_file()


def test_a_training_in_flight_stops_when_the_budget_runs_out_checkpointed_and_charged_what_it_used(
    ws, tmp_path
) -> None:
    """The cap inside a training: the meter's budget runs out while it runs; it stops at its next report (about a
    second), its checkpoint written, charged the seconds it used, NaN, not cached; asked again without a budget it
    continues from the checkpoint to the uninterrupted value."""
    from archgen.evaluators.budget import CostMeter
    from archgen.evaluators.training import TrainingEvaluator

    arch = ws.space("nb201").parse(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    sched = TINY | {"epochs": 40, "seed": 1}
    meter = CostMeter(budget=1.2)
    ev = TrainingEvaluator(ws, TASK, workdir=tmp_path / "cut", meter=meter, **sched)
    (r,) = ev.evaluate([arch])
    assert not np.isfinite(r.value) and r.values["stopped"] == 1.0
    assert 1.2 <= r.cost <= 1.2 + 1.5  # reports come about every second
    assert (ev.run_dir(arch) / "checkpoint.npz").is_file() and not (ev.run_dir(arch) / WEIGHTS).exists()
    ev.meter = None
    (again,) = ev.evaluate([arch])
    (whole,) = TrainingEvaluator(ws, TASK, workdir=tmp_path / "whole", **sched).evaluate([arch])
    assert again.value == pytest.approx(whole.value) and np.isfinite(whole.value)


def test_the_memory_bound_holds_for_every_training_the_search_runs_at_once(ws) -> None:
    """Each training fits the bound alone; four at once do not: refused before any job, naming them."""
    from archgen.training.memory import training_memory

    one = training_memory(batch_size=16, C=4, N=1, resolution=8, images=90).total
    plan = check_search(params(batch_size=4), ws, max_memory=3 * one, parallel=1)
    assert plan.training.parallel == 1
    with pytest.raises(TrainingInputError, match="4 trainings at once"):
        check_search(params(batch_size=4), ws, max_memory=3 * one, parallel=4)


def test_a_prior_search_resumes_as_it_started_when_a_supernet_was_stored_meanwhile(
    ws, tmp_path, monkeypatch: pytest.MonkeyPatch, finished_runs
) -> None:
    """The pool and the prior's sources are recorded in the history: killed, then a supernet stored for the task
    (the newest, which a fresh prior would take as a source), the search resumes with the prior it started with
    (the bug: "batch 0 is not what the strategy proposes again", its trainings lost)."""
    monkeypatch.setattr(service, "POOL_TOP", 6)
    monkeypatch.setattr(service, "POOL_RANDOM", 2)
    monkeypatch.setattr(prior_service, "REFERENCE_CELLS", 12)
    monkeypatch.setattr(service, "POOL_SHARE", 0.5)
    monkeypatch.setattr(service, "POOL_CELL_SECONDS", 0.05)  # the scores are cached before the search
    plan = check_search(params(strategy=None, prior=None, batch_size=1), ws)
    service.build_pool_model(ws, dataclasses.replace(plan.training, budget_seconds=600.0))  # scores cached
    full = execute_search(plan, ws, checkpoint=tmp_path / "full" / "history.json")
    assert full.setup["prior"]["sources"] and len(full.setup["prior"]["pool"]) == 8
    ckpt = tmp_path / "cut" / "history.json"
    _killed(ws, plan, ckpt, 5)
    assert json.loads(ckpt.read_text())["setup"]["prior"]["pool"] == full.setup["prior"]["pool"]

    class Stored:
        id = "supernet-stored-meanwhile"

    monkeypatch.setattr(prior_service, "supernet_records", lambda *_a, **_k: [Stored()])
    finished_runs.clear()
    resumed = execute_search(plan, ws, checkpoint=ckpt)
    n = min(len(resumed.evaluations), len(full.evaluations))
    assert n >= 4 and [e.architecture for e in resumed.evaluations[:n]] == [
        e.architecture for e in full.evaluations[:n]
    ]
    assert resumed.setup == json.loads(ckpt.read_text())["setup"]


def test_a_failed_search_keeps_its_history_and_best_training_only(ws, tmp_path) -> None:
    """What the job runner calls on a failed or cancelled search's directory (``keeps_files``): killed inside a
    training (its checkpoint on disk, other trainings finished), only the history and the best training stay."""
    ckpt = tmp_path / "job" / "history.json"
    _killed(ws, check_search(params(batch_size=1), ws), ckpt, 7)
    assert list((ckpt.parent / "runs").glob("*/checkpoint.npz"))  # the training in flight
    best = json.loads(ckpt.read_text())["result"]["best_run"]
    service.prune_search_files(ckpt.parent)
    left = sorted(p.relative_to(ckpt.parent).as_posix() for p in ckpt.parent.glob("runs/*"))
    assert left == [best] and (ckpt.parent / best / WEIGHTS).is_file() and ckpt.is_file()
    assert not list(ckpt.parent.rglob("checkpoint.npz"))


def test_a_search_on_a_task_with_a_test_split_shows_validation_and_test_accuracy(ws, tmp_path) -> None:
    name = "search-pets-test"
    ws.tasks.add(name, image_folder(ws, tmp_path / "pets", per_class=30))  # the default test split
    try:
        h = execute_search(check_search(params(task=name, final_epochs=2), ws), ws, checkpoint=tmp_path / "h.json")
        best, final = h.result["best"], h.result["final"]
        for shown in (best, final):
            assert shown["selected_by"] == "val_acc" and shown["val_acc"] == shown["value"]
            assert 0 <= shown["test_acc"] <= 100 and "test_note" not in shown
        ev = [e for e in h.evaluations if e.architecture == best["architecture"] and e.fidelity == 1]
        assert ev and ev[0].values["test_acc"] == best["test_acc"]  # recorded, not selected by
        prov = json.loads((tmp_path / final["run"] / PROVENANCE).read_text())
        assert prov["test_acc"] == final["test_acc"] and prov["test_images"] == 18
    finally:
        ws.tasks.remove(name)
