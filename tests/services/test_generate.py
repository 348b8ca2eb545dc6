"""Generation as a service: the request checked once into a plan, refusals before any work, one guidance
builder per source. (Sampling itself is tested through the HTTP route and the CLI.)"""

from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

from archgen.errors import GeneratorInputError, UnknownNameError
from archgen.services import generate as service
from archgen.services.generate import GeneratePlan, check_request
from archgen.services.requests import Constraints, GenerateRequest


def test_a_request_becomes_a_plan_with_its_constraints_as_table_columns(ws) -> None:
    req = GenerateRequest(constraints=Constraints(max_params=0.8, max_latency_ms=5.0, device="pixel3"))
    plan = check_request(req, ws)
    assert isinstance(plan, GeneratePlan) and plan.table is ws.table("nb201")
    assert plan.request == req.model_copy(update={"guide_by": "table"})  # a benchmark task's default guide
    assert {b.name for b in plan.bounds} == {"params", "latency_pixel3"}
    assert plan.task.published and not plan.task.user


@pytest.mark.parametrize(
    ("request_", "error", "match"),
    [
        (GenerateRequest(task="mnist"), UnknownNameError, "mnist"),
        (GenerateRequest(constraints=Constraints(max_latency_ms=5.0, device="toaster")), UnknownNameError, "toaster"),
        (GenerateRequest(constraints=Constraints(max_latency_ms=5.0)), GeneratorInputError, "device"),
        (GenerateRequest(transfer_from=("cifar10-valid",)), GeneratorInputError, "cifar10-valid"),
        (GenerateRequest(guide_by="zero-cost", guidance_scale=0), GeneratorInputError, "guidance_scale"),
        (GenerateRequest(guide_by="zero-cost", task="cifar100"), GeneratorInputError, "images"),
    ],
)
def test_bad_requests_are_refused_before_any_work(ws, request_: GenerateRequest, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        check_request(request_, ws)


def test_server_settings_are_not_request_fields() -> None:
    for field in ("epochs", "generator_seed"):
        with pytest.raises(ValidationError, match=field):
            GenerateRequest.model_validate({field: 5})
    assert GenerateRequest.model_validate({"transfer_from": "cifar100, ImageNet16-120"}).transfer_from == (
        "cifar100",
        "ImageNet16-120",
    )


def test_every_guidance_source_has_a_builder() -> None:
    (literal, none) = typing.get_args(GenerateRequest.model_fields["guide_by"].annotation)  # Literal[...] | None
    assert set(service._GUIDANCE) == set(typing.get_args(literal)) and none is type(None)


def test_a_plan_is_not_checked_again(ws, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = check_request(GenerateRequest(), ws)

    class Reached(Exception):
        pass

    def no_check(*_a: object, **_k: object) -> None:
        raise AssertionError("checked twice")

    def stop(*_a: object, **_k: object) -> None:
        raise Reached

    monkeypatch.setattr(service, "check_request", no_check)
    monkeypatch.setattr(service, "shared_generator", stop)
    with pytest.raises(Reached):
        service.generate(plan, ws, ws.models)


def test_the_quick_generator_answers_while_the_full_one_is_not_trained(ws, tmp_path) -> None:
    from archgen.artifacts import ArtifactStore
    from archgen.services.generate import generate, generator_id, generator_ready

    store = ArtifactStore(tmp_path / "models")
    req = GenerateRequest(n=4, guidance_scale=0, steps=5, method="euler", seed=1)
    quick = generate(req, ws, store, generator_epochs=3, quick_epochs=1)
    assert quick.generator_stage == "quick" and quick.generator_id == generator_id("nb201", 1, 0)
    assert len(quick.items) == 4 and quick.summary()["generator_stage"] == "quick"
    assert generator_ready(store, "nb201", 1) and not generator_ready(store, "nb201", 3)
    # once the full one is stored it answers (here: quick_epochs not below the full one's, so no quick one)
    full = generate(req, ws, store, generator_epochs=1, quick_epochs=1)
    assert full.generator_stage == "full"


def test_surrogates_are_kept_on_disk_and_a_request_is_quick_once_they_are(ws, tmp_path, monkeypatch) -> None:
    """A later process (a job's worker, the CLI) loads the fitted surrogates instead of refitting them, and the
    route answers inline only when nothing would be trained or fitted."""
    from archgen.artifacts import ArtifactStore
    from archgen.context import Paths, Workspace
    from archgen.services.generate import SURROGATES, generate, inline_ready, surrogate_files

    monkeypatch.setattr(service, "CONSTRAINT_CELLS", 64)
    data = Workspace(Paths.of(ws.paths.data_dir, tmp_path / "cache", tmp_path / "home"))
    store = ArtifactStore(tmp_path / "models")
    req = GenerateRequest(
        n=2, steps=5, method="euler", seed=2, labelled=16, guidance_scale=5, constraints=Constraints(max_params=1.4)
    )
    plan = check_request(req, data)
    gens = {"generator_epochs": 2, "quick_epochs": 1}  # the quick generator: 1 epoch, no validity probe
    assert not inline_ready(plan, data, store, **gens)  # no generator yet
    first = generate(plan, data, store, **gens)
    files = sorted(surrogate_files(data).root.glob("*.npz"))
    assert len(files) == 2  # the accuracy surrogate and the parameters' one
    assert inline_ready(plan, data, store, **gens)
    assert not inline_ready(check_request(req.model_copy(update={"seed": 3}), data), data, store, **gens)
    assert not inline_ready(check_request(req.model_copy(update={"guide_by": "zero-cost"}), data), data, store, **gens)

    SURROGATES._items.clear()  # as in a new process: only the files are left
    fits: list[object] = []
    monkeypatch.setattr(service.DiffusionGenerator, "fit_guidance", lambda *a, **k: fits.append(a))
    again = generate(plan, data, store, **gens)
    assert fits == [] and [g.architecture for g in again.items] == [g.architecture for g in first.items]

    files[0].write_bytes(b"not a zip")  # an unreadable file is refitted, never a failed request
    SURROGATES._items.clear()
    monkeypatch.undo()
    monkeypatch.setattr(service, "CONSTRAINT_CELLS", 64)
    assert len(generate(plan, data, store, **gens).items) == 2
    assert files[0].stat().st_size > 100


def test_surrogates_are_fitted_while_the_generator_trains_and_abandoned_when_it_fails(ws, tmp_path, monkeypatch):
    """On first use the guidance surrogates are fitted in a thread beside the generator's training (on two cores
    the first generation takes the longer of the two, not their sum); a failed training stops them."""
    import threading

    from archgen.artifacts import ArtifactStore
    from archgen.context import Paths, Workspace
    from archgen.services.generate import generate

    monkeypatch.setattr(service, "CONSTRAINT_CELLS", 64)
    data = Workspace(Paths.of(ws.paths.data_dir, tmp_path / "cache", tmp_path / "home"))
    req = GenerateRequest(
        n=2, steps=5, method="euler", seed=4, labelled=16, guidance_scale=5, constraints=Constraints(max_params=1.4)
    )
    fits: list[tuple[str, object]] = []
    real = service.DiffusionGenerator.fit_guidance

    def spy(self, *a, **k):
        fits.append((threading.current_thread().name, k.get("should_stop")))
        return real(self, *a, **k)

    monkeypatch.setattr(service.DiffusionGenerator, "fit_guidance", spy)
    gens = {"generator_epochs": 2, "quick_epochs": 1}
    out = generate(check_request(req, data), data, ArtifactStore(tmp_path / "models"), **gens)
    assert len(out.items) == 2 and [name for name, _ in fits] == ["guidance-beside"] * 2

    fits.clear()
    started = threading.Event()
    monkeypatch.setattr(service.DiffusionGenerator, "fit_guidance", lambda *a, **k: (spy(*a, **k), started.set()))

    def failing(*_a, **_k):
        started.wait(30)
        raise RuntimeError("training failed")

    monkeypatch.setattr(service, "shared_generator", failing)
    fresh = check_request(req.model_copy(update={"seed": 5}), data)
    with pytest.raises(RuntimeError, match="training failed"):
        generate(fresh, data, ArtifactStore(tmp_path / "models2"), **gens)
    stop = fits[0][1]
    assert callable(stop) and stop()  # the fit in flight is told to stop at its next epoch


def test_a_new_home_beside_a_warm_cache_generates_as_a_fresh_one_does(ws, tmp_path, monkeypatch) -> None:
    """The surrogates stored in the cache are loaded onto the prepared generator (the one being trained has no
    weights yet): a second home beside the first's cache, or a home whose models were deleted, generates the
    architectures a fresh home does (the bug: "DiffusionGenerator is not fitted")."""
    from archgen.artifacts import ArtifactStore
    from archgen.context import Paths, Workspace
    from archgen.services.generate import SURROGATES, generate

    monkeypatch.setattr(service, "CONSTRAINT_CELLS", 64)
    data = Workspace(Paths.of(ws.paths.data_dir, tmp_path / "cache", tmp_path / "home"))
    req = GenerateRequest(n=2, steps=5, method="euler", seed=7, labelled=16, guidance_scale=5)
    gens = {"generator_epochs": 2, "quick_epochs": 1}
    first = generate(check_request(req, data), data, ArtifactStore(tmp_path / "models"), **gens)
    SURROGATES._items.clear()  # a new process: the cache's files only
    again = generate(check_request(req, data), data, ArtifactStore(tmp_path / "new-home-models"), **gens)
    assert [g.architecture for g in again.items] == [g.architecture for g in first.items]


def test_a_user_task_is_guided_by_its_prior_unless_told_otherwise(ws, tmp_path) -> None:
    from tests.tasks.folders import image_folder

    if "gen-prior-pets" not in ws.tasks:
        ws.tasks.add("gen-prior-pets", image_folder(ws, tmp_path / "pets", per_class=6))
    assert check_request(GenerateRequest(task="gen-prior-pets"), ws).request.guide_by == "prior"
    assert check_request(GenerateRequest(task="cifar10"), ws).request.guide_by == "table"
    assert (
        check_request(GenerateRequest(task="gen-prior-pets", guide_by="zero-cost"), ws).request.guide_by == "zero-cost"
    )
    with pytest.raises(GeneratorInputError, match="has no table"):
        check_request(GenerateRequest(task="gen-prior-pets", guide_by="table"), ws)
