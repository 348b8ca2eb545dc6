"""Architectures for a task from the space's diffusion generator, guided toward accuracy under constraints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from archgen.api.routes.common import accepted
from archgen.api.schemas import ErrorResponse, GenerateResponse, Job
from archgen.api.state import Data, Key, ServiceState, State
from archgen.jobs.store import SYSTEM_OWNER
from archgen.services.generate import (
    GENERATOR_SEED,
    check_request,
    generate,
    generator_id,
    generator_ready,
    inline_ready,
)
from archgen.services.jobs import TrainGeneratorParams
from archgen.services.requests import GenerateRequest

router = APIRouter(prefix="/v1", tags=["generate"])


def _ensure_generator(state: ServiceState, space: str) -> bool:
    """Whether the space's generator is stored; if not, queue the service's job that trains it (once)."""
    if generator_ready(state.models.store, space, state.settings.generator_epochs, GENERATOR_SEED):
        return True
    gid = generator_id(space, state.settings.generator_epochs, GENERATOR_SEED)
    spec = TrainGeneratorParams(space=space, epochs=state.settings.generator_epochs, seed=GENERATOR_SEED)
    state.submit_job("train_generator", spec.model_dump(mode="json"), SYSTEM_OWNER, f"default:{gid}", retry_failed=True)
    return False


@router.post(
    "/generate",
    response_model=GenerateResponse,
    response_model_exclude_unset=True,  # the body as the service builds it (no defaults added)
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
    data: Data,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> GenerateResponse | JSONResponse:
    """Generate architectures (DiffusionNAG-style score-based graph diffusion: NB201, NB101, NAS-Bench-Graph).

    Guidance: a noise-aware surrogate of the task's accuracy (``labelled`` table
    cells), or of other tasks' labels only (``transfer_from``; the pool is then
    ranked by a LightGBM on the same labels). ``constraints`` (parameters,
    FLOPs, latency on a device) are followed by gradient and met by every
    returned architecture by its published value. Each architecture comes with
    its predicted and published accuracy and constrained values; the batch with
    validity, uniqueness and novelty. ``guide_by: "zero-cost"`` guides without
    any label, by the zero-cost vote computed on the task's images.

    Answered inline for ``n`` up to the service's ``generate_inline`` when it takes seconds: a generator is
    stored and the request's surrogates are cached (an earlier request with the same guidance fitted them; they are
    kept on disk). Otherwise, and always for zero-cost and supernet guidance, a job (202 + ``Location``) whose
    result has this body. The first request for a space queues the service's job that trains its full
    generator (minutes on a CPU); meanwhile a quick generator (``quick_generator_epochs``, trained in seconds by
    the first request's job) answers, and ``generator_stage`` says which one did.
    """
    plan = check_request(req, data)  # 404 / 422 before any job exists; checked once
    s = state.settings
    quick = s.quick_generator_epochs or None  # as the generate job: generate() answers with it while it is fewer
    _ensure_generator(state, req.space)
    quick_now = req.n <= s.generate_inline and await run_in_threadpool(
        inline_ready, plan, data, state.models.store, generator_epochs=s.generator_epochs, quick_epochs=quick
    )
    if not quick_now:  # a generator to train, surrogates to fit, labels to compute, or a large n: a job
        job = state.submit_job("generate", req.model_dump(mode="json"), key.id, idempotency_key)
        return accepted(job)
    result = await run_in_threadpool(
        generate, plan, data, state.models.store, generator_epochs=s.generator_epochs, quick_epochs=quick
    )
    return GenerateResponse.model_validate(result.summary())
