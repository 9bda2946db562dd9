"""ASGI middleware: the body guard (size limit, strict UTF-8) and access log + metrics."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from textrepair.serve.errors import error_response
from textrepair.serve.metrics import Metrics

access_log = logging.getLogger("textrepair.access")
ENDPOINTS = frozenset(
    {"/v1/repair", "/healthz", "/readyz", "/metrics", "/admin/reload", "/docs", "/openapi.json"}
)


class BodyGuard:
    """Reads request bodies up to `max_bytes` (413 past it, before reading on when
    Content-Length says so) and rejects JSON bodies that are not UTF-8 (json.loads would also
    accept UTF-16 and UTF-32)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            more = message.get("more_body", False)
        if "json" in headers.get("content-type", "") and not _utf8(bytes(body)):
            response = error_response(400, "invalid_utf8", "the body is not valid UTF-8")
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the body is larger than {self.max_bytes} bytes"
        await error_response(413, "body_too_large", message)(scope, receive, send)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # later calls wait for the disconnect, as ASGI expects
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def observe(
    metrics: Metrics, log_bodies: bool, max_request_id_chars: int = 128
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """HTTP middleware: one JSON access-log line and the request metrics per request.

    A client's X-Request-ID is echoed and logged cut to `max_request_id_chars`: a header of
    many kilobytes would otherwise be copied into every log line and answer."""

    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        given = request.headers.get("x-request-id", "")[:max_request_id_chars]
        request_id = given or uuid.uuid4().hex
        try:
            response = await call_next(request)
        except Exception:  # the handler crashed: answer JSON, count and log it like the rest
            access_log.exception("unhandled error in %s", request.url.path)
            response = error_response(500, "internal_error", "internal server error")
        elapsed = time.perf_counter() - start
        endpoint = request.url.path if request.url.path in ENDPOINTS else "other"
        metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(elapsed)
        response.headers["x-request-id"] = request_id
        record = {
            "event": "access",
            "request_id": request_id,
            "method": request.method,
            "path": endpoint,
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 2),
            "client": request.client.host if request.client else None,
            **getattr(request.state, "access", {}),
        }
        if not log_bodies:
            record.pop("texts", None)
            record.pop("outputs", None)
        access_log.info(json.dumps(record, ensure_ascii=True))
        return response

    return middleware
