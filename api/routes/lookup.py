"""Published (measured) benchmark metrics of architectures."""

from __future__ import annotations

import numpy as np
from archgen.api.routes.common import parse_architectures
from archgen.api.schemas import ErrorResponse, LookupRequest, LookupResponse
from archgen.api.state import Key, State
from fastapi import APIRouter

from archgen.errors import UnknownNameError
from archgen.serialize import to_jsonable

router = APIRouter(prefix="/v1", tags=["lookup"])


@router.post(
    "/lookup",
    response_model=LookupResponse,
    responses={404: {"model": ErrorResponse}, 413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)
def lookup(req: LookupRequest, state: State, _: Key) -> dict:
    """What the benchmark measured for each architecture (as opposed to what is predicted)."""
    table = state.table(req.space)
    space = state.space(req.space)
    archs = parse_architectures(space, req.architectures, state.settings.max_archs)
    tasks = req.tasks or table.tasks()
    columns: dict[str, dict[str, np.ndarray]] = {}
    rows = table.rows(archs)
    for task in tasks:
        state.check_task(req.space, task)
        available = table.metrics(task)
        wanted = [m for m in (req.metrics or available) if m in available]
        if req.metrics and not wanted:
            raise UnknownNameError(f"metric of {req.space}/{task}", ", ".join(req.metrics), available)
        columns[task] = {m: table.lookup(task, m, rows) for m in wanted}
    results = []
    for k, (given, arch) in enumerate(zip(req.architectures, archs, strict=True)):
        results.append(
            {
                "architecture": given,
                "canonical": space.format(space.canonical(arch)),
                "index": int(rows[k]),
                "metrics": {t: {m: to_jsonable(col[k]) for m, col in cols.items()} for t, cols in columns.items()},
            }
        )
    return {"space": req.space, "results": results}
