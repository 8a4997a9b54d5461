"""FastAPI app factory: one app serves the webhooks and the authenticated API."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bus.publisher import Publisher
from bus.spool import Spool
from gateway.directory.store import DirectoryStore
from gateway.observability.tracing import TraceMiddleware
from gateway.redis_client import connect_redis
from gateway.settings import Settings
from gateway.topology import declare_all

log = structlog.get_logger(__name__)

SHUTDOWN_GRACE_S = 5.0

# Each module exposes `router: APIRouter`; a capability adds its module here.
ROUTER_MODULES: list[str] = [
    "gateway.api.health",
    "gateway.api.units",
    "gateway.api.calls",
    "gateway.api.dutychecks",
    "gateway.api.orders",
    "gateway.api.tickets",
    "gateway.api.sea",
    "gateway.api.reports",
    "gateway.api.metrics",
    "gateway.api.board",
    "gateway.api.routing",
    "gateway.api.webhooks_twilio",
    "gateway.api.webhooks_wechat",
]


class BodyLimitMiddleware:
    """Refuse oversized bodies with 413 before anything parses them.

    Plain ASGI (not `BaseHTTPMiddleware`, whose extra task and streams per request cost
    about a fifth of the webhook's CPU, measured by bench/run_all.py). A body without
    Content-Length (chunked) is read up to the limit, then handed on as one message.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"content-length"), None
        )
        too_large = JSONResponse({"detail": "body-too-large"}, status_code=413)
        if length is not None and (not length.isdigit() or int(length) > self._max):
            await too_large(scope, receive, send)
            return
        if scope["method"] not in {"POST", "PUT", "PATCH"} or length is not None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _keep_publisher(app: FastAPI, settings: Settings) -> None:
    """Connect the publisher, and keep trying while the broker is down (the spool holds)."""
    delay = 0.5
    while app.state.publisher is None:
        try:
            publisher = await Publisher.connect(settings, confirm_timeout_s=5.0)
            try:
                await declare_all(publisher.connection, settings)
            except BaseException:
                await publisher.close()
                raise
            app.state.publisher = publisher
            app.state.spool.set_publisher(publisher)
            log.info("api.broker_connected")
        except Exception as exc:
            log.warning("api.broker_unavailable", error=repr(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


def create_app(settings: Settings) -> FastAPI:
    """Build the app; connections open in the lifespan, so building it does no I/O."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.redis = connect_redis(settings)
        app.state.publisher = None
        app.state.spool = Spool(settings.spool_dir, None)
        app.state.directory = DirectoryStore(app.state.redis, settings)
        if settings.directory_file is not None:
            with contextlib.suppress(Exception):
                if not await app.state.directory.all():
                    await app.state.directory.load_file(settings.directory_file, by="startup")
        tasks = [
            asyncio.create_task(_keep_publisher(app, settings)),
            asyncio.create_task(app.state.spool.run_drainer()),
        ]
        for start in app.state.startup_hooks:
            tasks.extend(await start(app))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            # bounded: a connect to an unreachable broker can swallow its cancellation
            _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
            if stuck:
                log.warning("api.shutdown_left_tasks", tasks=[t.get_name() for t in stuck])
            if app.state.publisher is not None:
                await app.state.publisher.close()
            await app.state.redis.aclose()

    app = FastAPI(
        title="Linkage Gateway",
        version="1.0.0",
        summary="Social emergency linkage gateway: alerts in, routing, orders, supervision.",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry layer (`fastapi.telemetry`, on as soon as a process
        # installs an SDK tracer provider, which every linkgate process does) would add a
        # second server span and operation spans (dependencies, endpoint, serialisation) to
        # every request: TraceMiddleware below is the one server span. Metrics are
        # Prometheus' (/metrics), logs structlog's.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.startup_hooks = []
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(TraceMiddleware)  # outermost: every request runs in a span

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "invalid-request", "errors": errors}, status_code=422)

    for name in ROUTER_MODULES:
        module = importlib.import_module(name)
        app.include_router(module.router)
        hook = getattr(module, "on_startup", None)
        if hook is not None:
            app.state.startup_hooks.append(hook)
    return app
