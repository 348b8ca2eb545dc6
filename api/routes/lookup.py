"""Published (measured) benchmark metrics of architectures."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from archgen.api.schemas import ErrorResponse, LookupRequest, LookupResponse
from archgen.api.state import Key, State
from archgen.services.inference import lookup, parse_batch

router = APIRouter(prefix="/v1", tags=["lookup"])


@router.post(
    "/lookup",
    response_model=LookupResponse,
    responses={404: {"model": ErrorResponse}, 413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)
def lookup_route(req: LookupRequest, state: State, _: Key) -> dict:
    """What the benchmark measured for each architecture (as opposed to what is predicted)."""
    table = state.table(req.space)
    batch = parse_batch(state.space(req.space), req.architectures, state.settings.max_archs)
    rows = lookup(table, batch, req.tasks, req.metrics, memo=state.canonical)
    return {"space": req.space, "results": [asdict(r) for r in rows]}
