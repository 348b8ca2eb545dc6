"""ASGI middleware: request ids, access logs, request metrics, body-size limit.

Written as plain ASGI (not ``BaseHTTPMiddleware``) to keep per-request overhead small.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from archgen.api.metrics import ServiceMetrics
from archgen.logs import request_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("archgen.api.access")
_RID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class _BodyTooLarge(HTTPException):
    """Raised while reading a body past the limit (an HTTPException, so FastAPI passes it through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_message(limit))


def _too_large_message(limit: int) -> str:
    return f"request body larger than the limit of {limit} bytes"


def _json_error(status: int, code: str, message: str, rid: str | None, **extra: Any) -> tuple[dict, bytes]:
    body = json.dumps({"error": {"code": code, "message": message, **extra}, "request_id": rid}).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, body


class ServiceMiddleware:
    """Request id (``X-Request-ID``, taken from the client when well-formed), one JSON log line
    and Prometheus samples per request, and a limit on the request body (413).

    Args:
        app: The wrapped ASGI app.
        metrics: Where request counts and latencies go.
        max_body_bytes: Largest body accepted.
        upload_limits: Larger limits of upload routes (``{(method, path): bytes}``, e.g. a task's archive).
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: ServiceMetrics,
        max_body_bytes: int,
        upload_limits: dict[tuple[str, str], int] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.upload_limits = dict(upload_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
            elif name == b"content-length":
                length = value
        rid = given if given and _RID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        t0 = time.perf_counter()
        status = 500
        started = False
        limit = self.upload_limits.get((scope.get("method", ""), scope.get("path", "")), self.max_body_bytes)

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def too_large() -> None:
            start, body = _json_error(413, "too_large", _too_large_message(limit), rid, limit=limit)
            await send_wrapper(start)
            await send({"type": "http.response.body", "body": body})

        try:
            if length is not None and (not length.isdigit() or int(length) > limit):
                await too_large()
            else:
                await self.app(scope, receive_wrapper, send_wrapper)
        except _BodyTooLarge:  # raised outside FastAPI's body parsing (which answers it itself)
            if not started:
                await too_large()
        finally:
            elapsed = time.perf_counter() - t0
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "?")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            log.info(
                "%s %s %d %.1f ms",
                method,
                scope.get("path", ""),
                status,
                elapsed * 1e3,
                extra={
                    "method": method,
                    "path": scope.get("path", ""),
                    "status": status,
                    "ms": round(elapsed * 1e3, 2),
                },
            )
            request_id.reset(token)
