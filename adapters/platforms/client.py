"""HTTP client for the centres' platforms: idempotent POSTs with retries and a breaker.

Every POST carries `Idempotency-Key` (our message id), so a retry — ours, the bus's, or an
operator's replay — can never create a second record at the centre. Failures are split
into the two kinds a caller must treat differently:

- `PlatformUnavailable`: 5xx, 408, 409, 429, timeouts, connection errors, breaker open —
  trying again later can help;
- `PlatformRejected`: any other 4xx — the centre refuses this request; retrying won't help.

Retries use exponential backoff with full jitter (so that many deliveries failing together
do not retry in lock-step); the circuit breaker stops hammering a centre that is down and
lets a single probe through after a pause.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from adapters.platforms.transport import CentreTransport

log = structlog.get_logger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


class PlatformError(Exception):
    """A POST to a platform did not succeed."""

    def __init__(self, platform: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{platform}: {reason}" + (f": {detail}" if detail else ""))
        self.platform = platform
        self.reason = reason
        self.detail = detail


class PlatformUnavailable(PlatformError):
    """Transient: the platform may accept the same request later."""


class PlatformRejected(PlatformError):
    """Permanent: the platform refused the request (4xx); `status` says how."""

    def __init__(self, platform: str, status: int, detail: str = "") -> None:
        super().__init__(platform, f"rejected-{status}", detail)
        self.status = status


class CircuitOpen(PlatformUnavailable):
    """The breaker is open: no request was sent."""


@dataclass
class RetryPolicy:
    """How often and how patiently one `post` tries before giving up."""

    attempts: int = 3
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full-jitter backoff before retry number `attempt` (1-based)."""
        cap = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return float(cap * rng())


@dataclass
class CircuitBreaker:
    """Closed → open after `threshold` consecutive failures; after `reset_after_s` one
    probe is let through (half-open): success closes, failure opens again."""

    threshold: int = 5
    reset_after_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    _probing: bool = field(default=False, repr=False)

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.reset_after_s:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._probing = False

    def failure(self) -> None:
        self.failures += 1
        if self._probing or self.failures >= self.threshold:
            self.opened_at = self.clock()
        self._probing = False


class PlatformClient:
    """One platform's HTTP endpoint. Reusable by any capability that posts to a centre."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        timeout_s: float = 5.0,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/") + "/"
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._secret = secret.encode() if secret else None
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s),
            headers={"User-Agent": "linkage-gateway/1", **(headers or {})},
            transport=transport if transport is not None else CentreTransport(),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _headers(self, body: bytes, idempotency_key: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        if self._secret is not None:
            ts = str(int(time.time()))
            mac = hmac.new(self._secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            headers["X-Linkgate-Timestamp"] = ts
            headers["X-Linkgate-Signature"] = f"sha256={mac}"
        return headers

    async def post(
        self, path: str, json_body: dict[str, Any], idempotency_key: str
    ) -> httpx.Response:
        """POST `json_body` to `base_url/path`; return the 2xx response or raise
        `PlatformRejected` / `PlatformUnavailable` after the retry policy is spent."""
        body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode()
        last: PlatformUnavailable | None = None
        for attempt in range(1, self.retry.attempts + 1):
            if attempt > 1:
                await asyncio.sleep(self.retry.delay(attempt - 1))
            if not self.breaker.allow():
                detail = f"after {self.breaker.failures} failures"
                raise CircuitOpen(self.name, "circuit-open", detail)
            try:
                response = await self._client.post(
                    path.lstrip("/"), content=body, headers=self._headers(body, idempotency_key)
                )
            except httpx.TimeoutException as exc:
                last = PlatformUnavailable(self.name, "timeout", type(exc).__name__)
            except httpx.TransportError as exc:
                last = PlatformUnavailable(self.name, "unreachable", repr(exc)[:200])
            else:
                status = response.status_code
                if 200 <= status < 300:
                    self.breaker.success()
                    return response
                if status >= 500 or status in RETRYABLE_STATUS:
                    last = PlatformUnavailable(self.name, f"http-{status}", response.text[:200])
                else:
                    # the platform is up and answering: a refusal is not a breaker failure
                    self.breaker.success()
                    raise PlatformRejected(self.name, status, response.text[:500])
            self.breaker.failure()
            log.warning(
                "platform.post_failed", platform=self.name, path=path, attempt=attempt,
                reason=last.reason, key=idempotency_key,
            )
        assert last is not None
        raise last
