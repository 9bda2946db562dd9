"""The FastAPI app: `create_app(settings, repairer=...)`.

No `from __future__ import annotations` here: FastAPI reads the endpoint annotations at run time,
and the request model is built per app from the configured limits.
"""

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Depends, FastAPI, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr

from textrepair.config import ServeConfig, Settings
from textrepair.model.source import ModelInfo, champion_uri
from textrepair.monitoring.drift_metrics import register_drift_gauges
from textrepair.monitoring.predlog import PredictionLogWriter, prediction_rows
from textrepair.serve.batcher import DeadlineExceededError, MicroBatcher, QueueFullError
from textrepair.serve.errors import ApiError, install_handlers
from textrepair.serve.inference import predict
from textrepair.serve.metrics import Metrics
from textrepair.serve.middleware import BodyGuard, observe
from textrepair.serve.schemas import (
    ErrorResponse,
    ReadyResponse,
    ReloadResponse,
    RepairResponse,
    request_model,
)
from textrepair.serve.slot import Loaded, ModelSlot

log = logging.getLogger(__name__)
API_KEY_HEADER = "X-API-Key"
LOADER_THREAD = "textrepair-load"
T = TypeVar("T")
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 413, 422, 429, 503)
}
CLIENT_CLOSED = 499  # nginx's status for a client that went away: logged, never sent


def create_app(
    settings: Settings,
    repairer: Any = None,
    model_info: ModelInfo | None = None,
    source: str | None = None,
) -> FastAPI:
    """The service. With `repairer` it serves that object at once (tests); otherwise it loads
    `source` (default: serve.model, else the champion) in the background and is ready after."""
    config = settings.serve
    source = source or config.model or champion_uri(settings)
    loaded = None
    if repairer is not None:
        info = model_info or ModelInfo(settings.registry.model_name, "in-memory", None, "in-memory")
        loaded = Loaded(repairer, info)
    slot = ModelSlot(source, settings.mlflow.tracking_uri, loaded)
    metrics = Metrics()
    # The drift gauges re-read `textrepair monitor`'s report at every scrape.
    register_drift_gauges(config.drift_report, registry=metrics.registry)
    log_writer = PredictionLogWriter.from_settings(settings) if config.log_predictions else None
    if log_writer is not None:
        metrics.watch_prediction_log(log_writer.stats)
    batcher = MicroBatcher(
        _model_call(slot, metrics),
        enabled=config.micro_batching,
        max_batch_size=config.max_batch_size,
        max_wait_s=config.max_wait_ms / 1000,
        max_queue=config.max_queue,
        max_queue_chars=config.max_queue_chars,
    )
    reloads = _Reloads(slot, metrics)
    app = FastAPI(
        title="textrepair",
        summary="Restores text damaged by DNA-like mutations.",
        version="1",
        lifespan=_lifespan(slot, batcher, reloads, config, log_writer),
    )
    app.state.slot, app.state.metrics, app.state.batcher = slot, metrics, batcher
    install_handlers(app)
    app.add_middleware(BodyGuard, max_bytes=config.max_body_bytes)
    # Outermost: sees every answer.
    app.middleware("http")(observe(metrics, config.log_bodies, config.max_request_id_chars))
    _routes(app, config, slot, batcher, reloads, metrics, log_writer)
    return app


def _model_call(slot: ModelSlot, metrics: Metrics):
    def run(texts: list[str], options: Mapping[str, Any]) -> tuple[list[Any], ModelInfo]:
        loaded = slot.current  # once per batch: a reload in between swaps cleanly
        if loaded is None:
            raise ApiError(503, "not_ready", "the model is not loaded yet")
        metrics.batch_size.observe(len(texts))
        return predict(loaded.repairer, texts, options), loaded.info

    return run


def _lifespan(
    slot: ModelSlot,
    batcher: MicroBatcher,
    reloads: "_Reloads",
    config: ServeConfig,
    log_writer: PredictionLogWriter | None,
):
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if config.torch_threads:
            import torch

            torch.set_num_threads(config.torch_threads)
        if slot.current is not None:
            reloads.metrics.serving(slot.current.info)
        await batcher.start()
        supervisor = asyncio.create_task(_supervise(slot, reloads, config))
        try:
            yield
        finally:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
            # uvicorn has answered the requests in flight by now. The log writer goes first: it
            # commits (or spills) what is buffered; then the batcher stops.
            if log_writer is not None:
                await asyncio.to_thread(log_writer.close)
            await batcher.stop()

    return lifespan


async def _supervise(slot: ModelSlot, reloads: "_Reloads", config: ServeConfig) -> None:
    """Load the model in the background until it works, then poll for a new version."""
    while slot.current is None:
        if not await reloads.run():
            await asyncio.sleep(config.load_retry_s)
    while config.reload_interval_s > 0:
        await asyncio.sleep(config.reload_interval_s)
        try:
            changed = await asyncio.to_thread(slot.has_update)
        except Exception as error:  # the registry is unreachable: keep serving, try later
            log.warning("cannot check %s for a new version: %s", slot.source, error)
            continue
        if changed:
            await reloads.run()


class _Reloads:
    """Loads the slot's source again; a call that arrives while a load runs joins that load
    instead of starting another (a burst of admin calls costs one load)."""

    def __init__(self, slot: ModelSlot, metrics: Metrics) -> None:
        self.slot, self.metrics = slot, metrics
        self._running: asyncio.Task[bool] | None = None

    async def run(self) -> bool:
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._load())
        # Shielded: a caller that goes away does not cancel the load the others wait for.
        return await asyncio.shield(self._running)

    async def _load(self) -> bool:
        try:
            loaded = await _on_own_thread(self.slot.reload)
        except Exception:
            self.metrics.reloads.labels("failure").inc()
            return False
        self.metrics.reloads.labels("success").inc()
        self.metrics.serving(loaded.info)
        return True


async def _on_own_thread(function: Callable[[], T]) -> T:
    """Run `function` on a new thread that ends when it returns.

    Torch's OpenMP keeps a pool of worker threads for every thread that ran parallel work, for as
    long as that thread lives. A second live pool beside the model thread's made every forward pass
    about 50% slower on 2 cores (a decoding step 40 -> 60-70 ms). Loading on a pooled thread that
    lives on (`asyncio.to_thread`) left such a pool behind; a thread that ends takes it along.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=LOADER_THREAD)
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, function)
    finally:
        pool.shutdown(wait=False)  # the thread exits once `function` is done


def api_key(config: ServeConfig) -> str | None:
    """The configured key: serve.api_key, else the content of serve.api_key_file if it exists."""
    return _secret(config.api_key, config.api_key_file)


def admin_api_key(config: ServeConfig) -> str | None:
    """The admin key: serve.admin_api_key, else the content of serve.admin_api_key_file."""
    return _secret(config.admin_api_key, config.admin_api_key_file)


def _secret(value: SecretStr | None, file: str | None) -> str | None:
    if value:
        return value.get_secret_value()
    if file and Path(file).is_file():
        return Path(file).read_text(encoding="utf-8").strip() or None
    return None


def _key_checker(expected: str | None, *, admin: bool):
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)

    def check(key: str | None = Security(header)) -> None:
        if expected is None:
            if admin:
                raise ApiError(403, "admin_disabled", "set serve.admin_api_key to use /admin")
            return
        # Constant time: the comparison must not reveal how much of a guess was right.
        if key is None or not hmac.compare_digest(key.encode(), expected.encode()):
            raise ApiError(401, "unauthorized", f"a valid {API_KEY_HEADER} header is required")

    return check


def _routes(
    app: FastAPI,
    config: ServeConfig,
    slot: ModelSlot,
    batcher: MicroBatcher,
    reloads: _Reloads,
    metrics: Metrics,
    log_writer: PredictionLogWriter | None,
) -> None:
    repair_request = request_model(config)

    @app.post(
        "/v1/repair",
        response_model=RepairResponse,
        responses=_ERRORS,
        dependencies=[Depends(_key_checker(api_key(config), admin=False))],
    )
    async def repair(body: repair_request, request: Request) -> Any:  # type: ignore[valid-type]
        """Repair each text; results come back in input order, with the model that answered.

        503 `deadline_exceeded` when no answer is ready within serve.request_timeout_seconds;
        429 `overloaded` when too many requests or characters are waiting."""
        if slot.current is None:
            raise ApiError(503, "not_ready", "the model is still loading; see /readyz")
        options = body.options.model_dump(exclude_none=True) if body.options else {}
        started = time.perf_counter()
        timeout = config.request_timeout_seconds
        work = batcher.submit(body.texts, options, timeout)
        try:
            results, info = await _unless_abandoned(request, work, timeout)
        except QueueFullError as error:
            raise ApiError(429, "overloaded", f"try again later: {error}") from error
        except (TimeoutError, DeadlineExceededError) as error:
            metrics.expired.inc()
            message = f"no answer within {timeout:g} s (serve.request_timeout_seconds)"
            raise ApiError(503, "deadline_exceeded", message) from error
        except _ClientGoneError:
            metrics.abandoned.inc()
            return Response(status_code=CLIENT_CLOSED)
        _observe_texts(metrics, body.texts, results)
        if log_writer is not None:
            latency_ms = (time.perf_counter() - started) * 1000
            log_writer.log(prediction_rows(body.texts, results, latency_ms, "api", info.version))
        request.state.access = {
            "texts_count": len(body.texts),
            "input_chars": sum(map(len, body.texts)),
            "model_version": info.version,
            "texts": body.texts,
            "outputs": [r.text for r in results],
        }
        return {
            "model": info.to_dict(),
            "results": [
                {"text": r.text, "edits": [asdict(e) for e in r.edits], "changed": r.changed}
                for r in results
            ],
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
    async def readyz() -> JSONResponse:
        """Readiness: a model is loaded."""
        current = slot.current
        body = ReadyResponse(
            ready=current is not None,
            model=current.info.to_dict() if current else None,
            last_error=slot.last_error,
        )
        return JSONResponse(body.model_dump(), status_code=200 if current else 503)

    @app.get("/metrics", response_class=Response)
    async def prometheus() -> Response:
        """Prometheus metrics (textrepair_*)."""
        metrics.queue_depth.set(batcher.queued)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/admin/reload",
        response_model=ReloadResponse,
        responses={**_ERRORS, 409: {"model": ReloadResponse}},
        dependencies=[Depends(_key_checker(admin_api_key(config), admin=True))],
    )
    async def reload() -> JSONResponse:
        """Load the source again (e.g. a new @champion); on failure the old model stays (409).
        Needs serve.admin_api_key; calls during a running reload share its result."""
        ok = await reloads.run()
        current = slot.current
        body = ReloadResponse(
            reloaded=ok,
            model=current.info.to_dict() if current else None,
            error=None if ok else slot.last_error,
        )
        return JSONResponse(body.model_dump(), status_code=200 if ok else 409)


class _ClientGoneError(Exception):
    """The client closed the connection before its answer was ready."""


async def _unless_abandoned(request: Request, work: Awaitable[T], timeout: float) -> T:
    """The result of `work`, unless the client disconnects (_ClientGoneError) or `timeout` passes
    (TimeoutError) first; either way `work` is cancelled, which drops it from the queue."""
    job = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnect(request))
    try:
        done, _ = await asyncio.wait({job, gone}, timeout=timeout, return_when="FIRST_COMPLETED")
    finally:
        gone.cancel()
    if job in done:
        return job.result()
    job.cancel()
    if gone in done:
        raise _ClientGoneError
    raise TimeoutError


async def _disconnect(request: Request) -> None:
    # The body has been read: the next ASGI message is the disconnect, whenever it comes.
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _observe_texts(metrics: Metrics, texts: list[str], results: list[Any]) -> None:
    metrics.texts_per_request.observe(len(texts))
    for text, result in zip(texts, results, strict=True):
        metrics.input_chars.observe(len(text))
        metrics.edits.observe(len(result.edits))
