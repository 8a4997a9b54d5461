"""The live board: `/board` (page), `/board/snapshot` (JSON), `/board/events` (SSE).

Read-only, and still authenticated: an API key holding `board:read`, given as `?key=`
(a wall screen or EventSource cannot set headers), `X-API-Key` or `Authorization: Bearer`.
Static assets (no data in them) are public.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from gateway.api.deps import get_settings
from gateway.board.feed import run_feed
from gateway.board.hub import BoardHub
from gateway.ops.orders import open_orders
from gateway.settings import Settings

log = structlog.get_logger(__name__)

router = APIRouter(tags=["board"])
SCOPE = "board:read"
KEEPALIVE_S = 15.0
_STATIC = {"board.js": "text/javascript", "board.css": "text/css"}


def _asset(name: str) -> str:
    return resources.files("gateway.board").joinpath("static", name).read_text(encoding="utf-8")


async def board_reader(
    request: Request, settings: Annotated[Settings, Depends(get_settings)]
) -> str:
    """The caller's key name if it holds `board:read` (query `key`, X-API-Key or Bearer)."""
    presented = request.query_params.get("key") or request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if not presented and auth.lower().startswith("bearer "):
        presented = auth[7:].strip()
    if not presented:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="missing-api-key")
    for key, scopes in settings.api_keys.items():
        if hmac.compare_digest(key.encode(), presented.encode()):
            if SCOPE in scopes or "*" in scopes:
                return key[:4] + "…"
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"scope-required:{SCOPE}")
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="invalid-api-key")


Reader = Annotated[str, Depends(board_reader)]


def get_hub(request: Request) -> BoardHub:
    hub: BoardHub | None = getattr(request.app.state, "board", None)
    if hub is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="board-not-started")
    return hub


Hub = Annotated[BoardHub, Depends(get_hub)]


@router.get("/board", response_class=HTMLResponse)
async def board_page(_: Reader) -> HTMLResponse:
    """The page (plain HTML + JS + CSS, no build step)."""
    return HTMLResponse(_asset("index.html"), headers={"Cache-Control": "no-store"})


@router.get("/board/static/{name}")
async def board_static(name: str) -> Response:
    if name not in _STATIC:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="not-found")
    return Response(_asset(name), media_type=_STATIC[name])


@router.get("/board/snapshot")
async def board_snapshot(_: Reader, hub: Hub) -> JSONResponse:
    """The board's current state: recent alerts, open orders, recent breaches, feed link."""
    return JSONResponse(hub.snapshot(), headers={"Cache-Control": "no-store"})


def _sse(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("/board/events")
async def board_events(_: Reader, hub: Hub) -> StreamingResponse:
    """Server-sent events: first a `snapshot`, then `alert`, `order`, `order_closed`,
    `breach` and `feed` updates as they happen, with a keep-alive comment every 15 s."""
    queue = hub.subscribe()

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            yield _sse("snapshot", hub.snapshot())
            while True:
                try:
                    update = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if update is None:  # dropped as too slow: the page reconnects
                    return
                yield _sse(update["kind"], update["item"])
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def on_startup(app: FastAPI) -> list[asyncio.Task[None]]:
    """Create the hub, seed open orders from the store if it is readable, start the feed."""
    settings: Settings = app.state.settings
    hub = BoardHub()
    app.state.board = hub
    try:
        hub.load_orders([o.as_board_item() for o in await open_orders(app.state.redis, settings)])
    except Exception as exc:  # the board still shows orders issued from now on
        log.warning("board.orders_not_seeded", error=repr(exc))
    return [asyncio.create_task(run_feed(settings, hub), name="board-feed")]
