"""Searches as durable jobs: submit one or a batch, follow their progress, history and front, cancel."""

from __future__ import annotations

import io
import json
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import TypeAdapter, ValidationError

from archgen.api.errors import ApiError, domain_error_response
from archgen.api.routes.common import job_json, job_of_kind, run_file
from archgen.api.routes.tasks import usage
from archgen.api.schemas import ErrorResponse, Job
from archgen.api.state import Data, Key, ServiceState, State
from archgen.errors import ArchgenError
from archgen.jobs import JobQuotaError, JobRecord
from archgen.search.history import SearchHistory
from archgen.services.jobs import SEARCH_HISTORY
from archgen.services.search import SearchParams, check_search, plot, report
from archgen.services.training_search import TrainingSchedule
from archgen.training.memory import run_disk_bytes

router = APIRouter(prefix="/v1", tags=["searches"])

_SUBMIT = threading.Lock()  # the per-key limits are checked and the jobs created as one step
_ONE = TypeAdapter(SearchParams)


def _parse(body: Any, most: int) -> list[SearchParams]:
    """One search, a list of them, or ``{"searches": [...]}``; errors name the search and the field."""
    if isinstance(body, dict) and set(body) == {"searches"}:
        body = body["searches"]
    items = body if isinstance(body, list) else [body]
    if not items:
        raise ApiError(422, "invalid_input", "no search given: send one search or a non-empty list")
    if len(items) > most:
        raise ApiError(
            413, "too_many_searches", f"{len(items)} searches in one request; at most {most} (ARCHGEN_SEARCH_MAX_BATCH)"
        )
    out = []
    for k, item in enumerate(items):
        try:
            out.append(_ONE.validate_python(item))
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(map(str, err["loc"])) or "body"
            prefix = f"searches[{k}]." if isinstance(body, list) else ""
            raise ApiError(422, "invalid_input", f"{prefix}{where}: {err['msg']}") from None
    return out


def _check_limits(state: ServiceState, owner: str, searches: list[SearchParams]) -> None:
    s = state.settings
    for k, p in enumerate(searches):  # more than a key may ever hold: a 422, not a 429 that no wait can lift
        where = "" if len(searches) == 1 else f"searches[{k}]: "
        if (p.budget_minutes or 0) > s.search_max_training_minutes_per_key:
            raise ApiError(422, "invalid_input", f"{where}budget_minutes {p.budget_minutes:g} is over this service's "
                           f"bound of {s.search_max_training_minutes_per_key:g} training minutes per key "
                           "(ARCHGEN_SEARCH_MAX_TRAINING_MINUTES_PER_KEY)")  # fmt: skip
        if (p.budget or 0) > s.search_max_budget_per_key:
            raise ApiError(422, "invalid_input", f"{where}budget {p.budget} is over this service's bound of "
                           f"{s.search_max_budget_per_key} evaluations per key (ARCHGEN_SEARCH_MAX_BUDGET_PER_KEY)")  # fmt: skip
    open_ = state.jobs.open_of(owner, "search")
    if len(open_) + len(searches) > s.search_max_open_per_key:
        raise JobQuotaError(
            f"this key has {len(open_)} searches queued or running and asks for {len(searches)} more; at most "
            f"{s.search_max_open_per_key} (ARCHGEN_SEARCH_MAX_OPEN_PER_KEY): wait for some to finish or cancel some"
        )
    pending = sum(int(j.params.get("budget") or 0) for j in open_)
    asked = sum(p.budget or 0 for p in searches)
    if pending + asked > s.search_max_budget_per_key:
        raise JobQuotaError(
            f"this key's queued and running searches hold {pending} evaluations and these ask for {asked}; at most "
            f"{s.search_max_budget_per_key} together (ARCHGEN_SEARCH_MAX_BUDGET_PER_KEY)"
        )
    trainings = [p for p in searches if p.evaluator == "training"]
    if trainings:  # the searches' trainings must fit the key's disk quota: a batch's runs and the best's at a time
        data = state.data.for_owner(owner)
        now = usage(state, data, owner)["bytes"]
        need = sum((min(p.batch_size, s.trainings_at_once) + 2) * run_disk_bytes(C=(p.schedule or TrainingSchedule()).C,
                   N=(p.schedule or TrainingSchedule()).N) for p in trainings)  # fmt: skip
        if now + need > s.key_max_stored_bytes:
            raise ApiError(413, "quota", f"your files take {now:,} bytes and these searches' trainings may need "
                           f"{need:,} more; your quota is {s.key_max_stored_bytes:,} (ARCHGEN_KEY_MAX_STORED_BYTES): "
                           "delete a task, or searches' files with it")  # fmt: skip
    held = [_training_minutes(state, owner, j.params) for j in open_ if j.params.get("evaluator") == "training"]
    minutes, wanted = sum(held), sum(_training_minutes(state, owner, p.model_dump(mode="json")) for p in trainings)
    if minutes + wanted > s.search_max_training_minutes_per_key:
        raise JobQuotaError(
            f"this key's queued and running training searches can spend {minutes:.1f} minutes and these "
            f"{wanted:.1f} (budgets and final trainings); at most {s.search_max_training_minutes_per_key} together "
            "(ARCHGEN_SEARCH_MAX_TRAINING_MINUTES_PER_KEY)"
        )


def _training_minutes(state: ServiceState, owner: str, params: dict) -> float:
    """Minutes a training search can spend: its budget (a cap) and its final training's expected minutes."""
    try:
        plan = check_search(SearchParams(**params), state.data.for_owner(owner)).training
    except (ArchgenError, ValueError, TypeError):  # e.g. its task deleted since: its budget alone
        plan = None
    return (plan.most_seconds / 60.0) if plan is not None else float(params.get("budget_minutes") or 0)


def _search_json(job: JobRecord) -> dict:
    return job_json(job) | {"location": f"/v1/searches/{job.id}"}


@router.post(
    "/searches",
    status_code=202,
    responses={
        202: {"description": "The searches' jobs, in the order given (`searches`); poll each `location`."},
        404: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
    },
)
def submit_searches(
    state: State,
    key: Key,
    data: Data,
    body: Annotated[
        Any,
        Body(
            description="One search (fields of SearchParams: space, task, metric, strategy, prior, acquisition, "
            'budget, batch_size, minimize, device, reference, generator, seed), a list of them, or {"searches": [...]}',
            examples=[
                {"space": "nb201", "task": "cifar10", "strategy": "bo", "prior": "zero-cost", "budget": 100, "seed": 0}
            ],
        ),
    ],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Queue searches (a batch: one per task, per seed, per constraint) as durable jobs; 202 with their ids.

    Every search is checked before any is queued (unknown names 404, bad combinations 422, limits 429):
    a request is queued whole or not at all. Strategies: ``bo`` (BoTorch GP; ``prior``: ``zero-cost``
    uses published label-free measurements, ``transfer`` other tasks' labels; ``generator: true`` adds cells of
    the space's diffusion generator, guided by the search's own evaluations, to its pool), ``mobo`` (qLogNEHVI with
    ``minimize``: ``latency`` on a ``device``, ``params`` or ``flops``; the result holds the front),
    ``robot`` (with ``prior: zero-cost``), ``bananas``, ``re``, ``ls``, ``random``.
    """
    searches = _parse(body, state.settings.search_max_batch)
    for k, p in enumerate(searches):
        most = state.settings.training_max_epochs
        epochs = [f.epochs for f in p.fidelities or ()] + ([p.final_epochs] if p.final_epochs else [])
        if epochs and max(epochs) > most:
            where = "" if len(searches) == 1 else f"searches[{k}]: "
            raise ApiError(422, "invalid_input", f"{where}a training of {max(epochs)} epochs; at most {most} "
                           "(ARCHGEN_TRAINING_MAX_EPOCHS)")  # fmt: skip
        try:
            check_search(p, data, max_memory=state.settings.job_memory_bytes, parallel=state.settings.trainings_at_once)
        except ArchgenError as e:  # the same status and body, naming the search of a batch
            return domain_error_response(e, prefix="" if len(searches) == 1 else f"searches[{k}]: ")
    with _SUBMIT:
        _check_limits(state, key.id, searches)
        jobs = []
        for k, p in enumerate(searches):
            ikey = (
                None
                if idempotency_key is None
                else (idempotency_key if len(searches) == 1 else f"{idempotency_key}:{k}")
            )
            jobs.append(state.submit_job("search", p.model_dump(mode="json"), key.id, ikey, limit_open=False))
    headers = {"Location": f"/v1/searches/{jobs[0].id}"} if len(jobs) == 1 else {}
    return JSONResponse({"searches": [_search_json(j) for j in jobs]}, status_code=202, headers=headers)


def _history(state: ServiceState, job: JobRecord) -> Any:
    path = state.settings.job_dir / job.id / SEARCH_HISTORY
    if not path.is_file():
        return None
    try:
        return SearchHistory.load(path)
    except (OSError, ValueError, TypeError, KeyError, json.JSONDecodeError):
        return None  # being replaced at this moment (writes are atomic): the next poll reads it


def _search(state: ServiceState, job_id: str, owner: str) -> JobRecord:
    return job_of_kind(state, job_id, owner, "search", "search")


@router.get("/searches/{job_id}", responses={404: {"model": ErrorResponse}})
def get_search(
    job_id: str,
    state: State,
    key: Key,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
) -> dict:
    """Status and progress; the best architecture so far, the best-so-far curve, one page of the history
    (``offset``, ``limit``) and, for two objectives, the current front."""
    job = _search(state, job_id, key.id)
    h = _history(state, job)
    return _search_json(job) | {"search": None if h is None else report(h, offset=offset, limit=limit)}


@router.get(
    "/searches/{job_id}/plot.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
)
def plot_search(job_id: str, state: State, key: Key) -> Response:
    """The best-so-far curve (or, for two objectives, the evaluated points and the front) as PNG."""
    job = _search(state, job_id, key.id)
    h = _history(state, job)
    if h is None or not h.evaluations:
        raise ApiError(409, "not_started", f"search {job_id} has no evaluation yet (status {job.status}); poll it")
    buf = io.BytesIO()
    plot(h, buf)
    return Response(buf.getvalue(), media_type="image/png")


@router.get(
    "/searches/{job_id}/weights",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": ErrorResponse},
               409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)  # fmt: skip
def download_search_weights(
    job_id: str, state: State, key: Key, which: str = "final", what: str = "weights"
) -> FileResponse:
    """A training search's trained network: ``which=final`` (the default) the best cell trained on the final
    schedule, falling back to ``best`` (the best cell's training at the highest fidelity) when the search asked
    for no final training. ``what``: ``weights`` (``weights.npz``, the state dict, no pickle), ``model``
    (``model.safetensors``: the state dict with the model card in its metadata: class names in label order, input
    size and normalisation, the network's arguments), ``card`` (``model.json``), ``onnx`` (exported on the first
    request) or ``provenance``. 409 until the search has succeeded; 422 for a search that trains nothing."""
    job = _search(state, job_id, key.id)
    if which not in ("final", "best"):
        raise ApiError(422, "invalid_input", f"which must be final or best, got {which!r}")
    if job.params.get("evaluator") != "training":
        raise ApiError(422, "invalid_input", f"search {job_id} trains no architecture (evaluator 'training' does)")
    h = _history(state, job)
    result = {} if h is None else h.result
    if job.status != "succeeded" or not result.get("best"):
        raise ApiError(409, "not_ready", f"search {job_id} has no trained result yet (status {job.status}); poll it")
    run = (result.get("final") or result["best"])["run"] if which == "final" else result["best"]["run"]
    return run_file(state.settings.job_dir / job.id / run, what, f"{job.id}-{which}")


@router.delete(
    "/searches/{job_id}", response_model=Job, responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}}
)
def cancel_search(job_id: str, state: State, key: Key) -> dict:
    """Cancel: a queued search at once, a running one after its current batch (409 if it has finished)."""
    _search(state, job_id, key.id)
    return job_json(state.jobs.request_cancel(job_id, key.id))
