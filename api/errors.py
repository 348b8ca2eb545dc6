"""Errors to HTTP: domain exceptions map to status codes here, and nowhere else.

Every error body is ``{"error": {"code", "message", ...}, "request_id"}``;
nothing answers with a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from archgen.db import DatabaseError
from archgen.errors import (
    ArchgenError,
    ArchitectureListError,
    ArtifactError,
    DataError,
    InvalidArchitectureError,
    NoSupernetError,
    NotFittedError,
    PredictorInputError,
    SupernetInputError,
    TaskError,
    TaskExistsError,
    TaskReadOnlyError,
    TooManyArchitecturesError,
    TrainingInputError,
    UnknownNameError,
    UnsupportedOperationError,
    UnsupportedSpaceError,
)
from archgen.generators.base import GeneratorInputError
from archgen.jobs import IdempotencyConflictError, JobNotFoundError, JobQuotaError, JobStateError
from archgen.jobs.base import JobParamsError
from archgen.logs import request_id
from archgen.search.strategies import SearchInputError

log = logging.getLogger("archgen.api")


class ApiError(Exception):
    """An error the API answers with directly.

    Args:
        status: HTTP status.
        code: Machine-readable code.
        message: What is wrong.
        headers: Extra response headers (``Retry-After``...).
        **extra: More fields of the error object (``index``, ``valid``, ``limit``).
    """

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.extra = status, code, message, headers, extra


#: (exception type, status, code), most specific first.
_MAP: list[tuple[type[Exception], int, str]] = [
    (JobNotFoundError, 404, "not_found"),
    (UnknownNameError, 404, "not_found"),
    (TooManyArchitecturesError, 413, "too_many_architectures"),
    (InvalidArchitectureError, 422, "invalid_architecture"),
    (JobParamsError, 422, "invalid_input"),
    (UnsupportedOperationError, 422, "unsupported_operation"),
    (UnsupportedSpaceError, 422, "unsupported_space"),
    (PredictorInputError, 422, "invalid_input"),
    (GeneratorInputError, 422, "invalid_input"),
    (SearchInputError, 422, "invalid_input"),
    (TaskError, 422, "invalid_input"),
    (SupernetInputError, 422, "invalid_input"),
    (TrainingInputError, 422, "invalid_input"),
    (TaskExistsError, 409, "conflict"),
    (TaskReadOnlyError, 403, "read_only"),
    (NoSupernetError, 409, "no_supernet"),
    (IdempotencyConflictError, 409, "idempotency_conflict"),
    (JobQuotaError, 429, "too_many_jobs"),
    (JobStateError, 409, "conflict"),
    (NotFittedError, 409, "not_fitted"),
    (ArtifactError, 409, "artifact_error"),
    (DataError, 503, "data_unavailable"),
    (DatabaseError, 503, "database_unavailable"),
    (ArchgenError, 400, "bad_request"),
]


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of an error response."""
    err = {"code": code, "message": message} | {k: v for k, v in extra.items() if v is not None}
    return {"error": err, "request_id": request_id.get()}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


def domain_error_response(exc: Exception, prefix: str = "") -> JSONResponse:
    """The response for a domain exception (see :data:`_MAP`); ``prefix`` goes before its message (e.g. which
    item of a request it is about)."""
    for cls, status, code in _MAP:
        if isinstance(exc, cls):
            extra: dict[str, Any] = {}
            if isinstance(exc, UnknownNameError) and not isinstance(exc, JobNotFoundError):
                extra["valid"] = exc.valid
            if isinstance(exc, ArchitectureListError):
                extra["index"] = exc.index
            if isinstance(exc, TooManyArchitecturesError):
                extra["limit"] = exc.limit
            if status >= 500:
                log.error("%s: %s", type(exc).__name__, exc)
            return error_response(status, code, prefix + str(exc), **extra)
    raise TypeError(f"not a domain error: {exc!r}")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every exception into a JSON error body."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(ArchgenError)
    async def _domain(_: Request, exc: ArchgenError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        body = error_body("invalid_request", "; ".join(problems) or "invalid request")
        body["error"]["details"] = details
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 413: "too_large"}
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.error("internal error: %r", exc, exc_info=exc)
        return error_response(500, "internal", "internal server error; the request id identifies it in the server log")
