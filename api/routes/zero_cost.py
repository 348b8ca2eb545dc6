"""Zero-cost proxies of architectures, computed on a task's images."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from archgen.api.routes.common import accepted
from archgen.api.schemas import ErrorResponse, Job, ZeroCostResponse
from archgen.api.state import Data, Key, State
from archgen.predictors.zerocost import ZCSettings
from archgen.services.inference import check_zero_cost, parse_batch, uncached_zero_cost_cells, zero_cost
from archgen.services.requests import ZeroCostRequest

router = APIRouter(prefix="/v1", tags=["zero-cost"])


@router.post(
    "/zero-cost",
    response_model=ZeroCostResponse,
    response_model_exclude_unset=True,  # the body as the service builds it (no defaults added)
    responses={
        202: {"model": Job, "description": "Too many cells to compute inline: a job computes them; poll Location."},
        404: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
    },
)
async def zero_cost_route(
    req: ZeroCostRequest,
    state: State,
    key: Key,
    data: Data,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> ZeroCostResponse | JSONResponse:
    """Zero-cost proxy scores (NB201; CIFAR-10 images, or a registered user task's training images).

    Answered inline (200) when at most ``zc_inline_cells`` of the cells are not
    cached yet; otherwise a job computes them (202 + ``Location``), and its
    result has this same body.
    """
    state.table(req.space)  # 404 for a space that does not exist at all
    check_zero_cost(req.space, req.task, req.proxies, data)
    batch = parse_batch(state.space(req.space), req.architectures, state.settings.max_zc_archs)
    zc = ZCSettings(batch_size=req.batch_size, C=req.width, seed=req.seed)
    proxies = list(dict.fromkeys(req.proxies))
    missing = await run_in_threadpool(uncached_zero_cost_cells, data, batch, req.task, proxies, zc)
    if missing > state.settings.zc_inline_cells:
        job = state.submit_job("zero_cost", req.model_dump(mode="json"), key.id, idempotency_key)
        return accepted(job)
    result = await run_in_threadpool(zero_cost, data, batch, req.task, proxies, zc)
    return ZeroCostResponse.model_validate(asdict(result))
