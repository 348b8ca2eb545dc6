"""Liveness (no key) and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from archgen import __version__
from archgen.api.schemas import Health, Readiness
from archgen.api.state import Key, State
from archgen.errors import DataError

public = APIRouter(prefix="/v1", tags=["health"])
router = APIRouter(prefix="/v1", tags=["health"])


@public.get("/health", response_model=Health)
def health() -> dict:
    """The process is up (no key needed)."""
    return {"status": "ok", "version": __version__}


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
def ready(state: State, _: Key) -> JSONResponse:
    """Whether the data verifies and the default predictors are loaded (503 with what is wrong or still training).

    The benchmark data is checked against its ``MANIFEST.sha256`` on every call
    (files whose size and modification time match an earlier check are not hashed again).
    """
    models = {f"{s}/{t}": d.describe(state.jobs) for (s, t), d in state.models.defaults.items()}
    tables = {name: "loaded" for name in sorted(state.loaded)}
    try:
        state.data.store.verify()
        data: dict[str, object] = {"ok": True}
    except DataError as e:
        data = {"ok": False, "error": str(e)}
    ok = state.models.ready and bool(data["ok"])
    body = {"ready": ok, "data": data, "tables": tables, "models": models}
    return JSONResponse(body, status_code=200 if ok else 503)
