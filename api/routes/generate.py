"""Architectures for a task from the space's diffusion generator, guided toward accuracy under constraints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from archgen.api.errors import ApiError
from archgen.api.routes.common import accepted
from archgen.api.schemas import ErrorResponse, GenerateRequest, GenerateResponse, Job
from archgen.api.state import Key, ServiceState, State
from archgen.generators.params import GenerateParams
from archgen.jobs.store import SYSTEM_OWNER
from archgen.services.generate import check_request, generate, generator_id
from archgen.services.jobs import TrainGeneratorParams

router = APIRouter(prefix="/v1", tags=["generate"])


def _ensure_generator(state: ServiceState, params: GenerateParams) -> bool:
    """Whether the space's generator is stored; if not, queue the service's job that trains it (once)."""
    gid = generator_id(params.space, params.epochs, params.generator_seed)
    if gid in state.models.store.ids():
        return True
    spec = TrainGeneratorParams(space=params.space, epochs=params.epochs, seed=params.generator_seed)
    state.submit_job("train_generator", spec.model_dump(mode="json"), SYSTEM_OWNER, f"default:{gid}", retry_failed=True)
    return False


@router.post(
    "/generate",
    response_model=GenerateResponse,
    responses={
        202: {"model": Job, "description": "Large n, or the space's generator not trained yet: a job; poll Location."},
        404: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
    },
)
async def generate_route(
    req: GenerateRequest,
    state: State,
    key: Key,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Generate architectures (DiffusionNAG-style score-based graph diffusion: NB201, NB101, NAS-Bench-Graph).

    Guidance: a noise-aware surrogate of the task's accuracy (``labelled`` table
    cells), or of other tasks' labels only (``transfer_from``; the pool is then
    ranked by a LightGBM on the same labels). ``constraints`` (parameters,
    FLOPs, latency on a device) are followed by gradient and met by every
    returned architecture by its published value. Each architecture comes with
    its predicted and published accuracy and constrained values; the batch with
    validity, uniqueness and novelty. ``guide_by: "zero-cost"`` guides without
    any label, by the zero-cost vote computed on the task's images.

    Answered inline for ``n`` up to the service's ``generate_inline`` once the
    space's generator is trained (zero-cost guidance: always a job); otherwise a job (202 + ``Location``) whose
    result has this body. The first request for a space queues the service's
    job that trains its generator (minutes on a CPU).
    """
    if req.task not in state.data.tasks:  # a user task is checked by check_request
        state.check_task(req.space, req.task)  # 404 for unknown names, before anything else
    c = req.constraints
    try:
        params = GenerateParams(
            space=req.space,
            task=req.task,
            n=req.n,
            guidance_scale=req.guidance_scale,
            labelled=req.labelled,
            transfer_from=tuple(req.transfer_from) if req.transfer_from else None,
            guide_by=req.guide_by,
            max_params=c.max_params,
            max_flops=c.max_flops,
            max_latency_ms=c.max_latency_ms,
            device=c.device,
            constraint_scale=req.constraint_scale,
            seed=req.seed,
            epochs=state.settings.generator_epochs,
            steps=req.steps,
            method=req.method,
        )
    except ValidationError as e:
        err = e.errors()[0]
        raise ApiError(422, "invalid_input", f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    check_request(params, state.data)  # 404 / 422 before any job exists
    ready = _ensure_generator(state, params)
    if not ready or params.n > state.settings.generate_inline or params.guide_by in ("zero-cost", "supernet"):
        job = state.submit_job("generate", params.model_dump(mode="json"), key.id, idempotency_key)
        return accepted(job)
    result = await run_in_threadpool(generate, params, state.data, state.models.store)
    return JSONResponse(result.summary())
