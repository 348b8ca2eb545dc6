"""Zero-cost proxies of architectures, computed on a task's images."""

from __future__ import annotations

from typing import Annotated

from archgen.api.routes.common import accepted, parse_architectures
from archgen.api.schemas import ErrorResponse, Job, ZeroCostRequest, ZeroCostResponse
from archgen.api.state import Key, State
from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from archgen.errors import UnknownNameError, UnsupportedSpaceError

router = APIRouter(prefix="/v1", tags=["zero-cost"])


@router.post(
    "/zero-cost",
    response_model=ZeroCostResponse,
    responses={
        202: {"model": Job, "description": "Too many cells to compute inline: a job computes them; poll Location."},
        404: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    },
)
async def zero_cost(
    req: ZeroCostRequest,
    state: State,
    key: Key,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Zero-cost proxy scores (NB201, CIFAR-10 images).

    Answered inline (200) when at most ``zc_inline_cells`` of the cells are not
    cached yet; otherwise a job computes them (202 + ``Location``), and its
    result has this same body.
    """
    from archgen.predictors.zerocost import (
        IMAGE_TASKS,
        PROXIES,
        SUPPORTED_SPACES,
        ZCSettings,
        score_archs,
        uncached_cells,
    )

    from archgen.jobs.kinds import zero_cost_result

    if req.space not in SUPPORTED_SPACES:
        state.table(req.space)  # 404 for a space that does not exist at all
        raise UnsupportedSpaceError("zero-cost proxies", req.space, SUPPORTED_SPACES)
    if req.task not in IMAGE_TASKS:
        raise UnknownNameError("task with images for zero-cost proxies", req.task, IMAGE_TASKS)
    for p in req.proxies:
        if p not in PROXIES:
            raise UnknownNameError("zero-cost proxy", p, PROXIES)
    space = state.space(req.space)
    archs = parse_architectures(space, req.architectures, state.settings.max_zc_archs)
    zc = ZCSettings(batch_size=req.batch_size, C=req.width, seed=req.seed)
    settings = state.settings
    missing = await run_in_threadpool(uncached_cells, archs, req.task, req.proxies, zc, settings.cache_dir)
    if missing > settings.zc_inline_cells:
        params = {
            "space": req.space,
            "task": req.task,
            "architectures": [space.format(a) for a in archs],
            "given": list(req.architectures),
            "proxies": list(dict.fromkeys(req.proxies)),
            "batch_size": req.batch_size,
            "width": req.width,
            "seed": req.seed,
        }
        job, created = state.jobs.create("zero_cost", params, key.id, idempotency_key)
        if created:
            state.wake_jobs("zero_cost")
        return accepted(job)

    def compute() -> dict:
        scores = score_archs(
            archs,
            req.task,
            list(dict.fromkeys(req.proxies)),
            zc,
            data_dir=settings.data_dir,
            cache_dir=settings.cache_dir,
        )
        return zero_cost_result(space, archs, list(req.architectures), req.task, scores, zc)

    return JSONResponse(await run_in_threadpool(compute))
