"""HMAC authentication of platform requests (12345, sea centres): never by IP.

    X-Linkage-Platform:  platform id (a key of LINKGATE_PLATFORM_SECRETS)
    X-Linkage-Timestamp: Unix time in seconds; refused outside ±replay window (300 s)
    X-Linkage-Nonce:     8-64 chars [A-Za-z0-9_-], new for every request
    X-Linkage-Signature: hex HMAC-SHA256(secret, METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n
                         hex SHA-256 of the raw body)

PATH is the path the platform called, as seen through LINKGATE_PUBLIC_BASE_URL (its path
prefix included), with `?query` if any. A nonce is accepted once (Redis SET NX, kept for
twice the window): a captured request replayed within the window is refused too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from gateway.settings import Settings

_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def signing_string(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, timestamp, nonce, digest]).encode()


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The signature a platform sends (also used by tests and the docs' example)."""
    msg = signing_string(method, path, timestamp, nonce, body)
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PlatformCaller:
    """An authenticated platform request: who sent it and the raw body it signed."""

    platform: str
    body: bytes


def _fail(reason: str) -> HTTPException:
    return HTTPException(401, detail=reason, headers={"WWW-Authenticate": "LinkageHMAC"})


def signed_path(settings: Settings, request: Request) -> str:
    prefix = (settings.public_base_url.path or "").rstrip("/")
    query = request.url.query
    return prefix + request.url.path + (f"?{query}" if query else "")


async def verify(
    request: Request, settings: Settings, redis: Redis, allowed: frozenset[str]
) -> PlatformCaller:
    """Check a platform request's signature, window and nonce; raise 401/403 otherwise."""
    h = request.headers
    platform = h.get("x-linkage-platform", "")
    ts = h.get("x-linkage-timestamp", "")
    nonce = h.get("x-linkage-nonce", "")
    signature = h.get("x-linkage-signature", "").lower()
    if not (platform and ts and nonce and signature):
        raise _fail("missing-signature-headers")
    secret = settings.platform_secrets.get(platform)
    if secret is None:
        raise _fail("unknown-platform")
    if not ts.isdigit() or abs(time.time() - int(ts)) > settings.platform_replay_window_s:
        raise _fail("stale-timestamp")
    if not _NONCE.match(nonce):
        raise _fail("bad-nonce")
    body = await request.body()
    expected = sign(
        secret.get_secret_value(), request.method, signed_path(settings, request), ts, nonce, body
    )
    if not hmac.compare_digest(expected, signature):
        raise _fail("bad-signature")
    if platform not in allowed:
        raise HTTPException(403, detail="platform-not-allowed")
    fresh = await redis.set(
        settings.key("platform", "nonce", platform, nonce),
        "1",
        nx=True,
        ex=2 * settings.platform_replay_window_s,
    )
    if not fresh:
        raise _fail("replayed")
    return PlatformCaller(platform=platform, body=body)


def require_platform(*allowed: str) -> Callable[[Request], Awaitable[PlatformCaller]]:
    """FastAPI dependency: a signed request from one of `allowed` platforms."""
    allowed_set = frozenset(allowed)

    async def check(request: Request) -> PlatformCaller:
        return await verify(
            request, request.app.state.settings, request.app.state.redis, allowed_set
        )

    return check


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: bytes) -> M:
    """The signed body as `model` (parsed only after the signature was checked), or the
    app's usual 422 `invalid-request` with the errors."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
