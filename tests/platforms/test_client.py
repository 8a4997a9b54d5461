"""Platform client: idempotency key on every try, retries on 5xx/timeouts, breaker, refusals."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest
import respx

from adapters.platforms import (
    CircuitBreaker,
    CircuitOpen,
    PlatformClient,
    PlatformRejected,
    PlatformUnavailable,
    RetryPolicy,
)

URL = "http://centre.test/api"
FAST = RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.002)


def client(**kw: object) -> PlatformClient:
    return PlatformClient("centre", URL, timeout_s=0.5, retry=FAST, **kw)  # type: ignore[arg-type]


@respx.mock
async def test_success_carries_idempotency_key_and_json() -> None:
    route = respx.post(f"{URL}/alerts").respond(201, json={"ok": True})
    c = client()
    r = await c.post("alerts", {"text": "路灯"}, idempotency_key="k1")
    await c.aclose()
    assert r.status_code == 201 and route.call_count == 1
    req = route.calls[0].request
    assert req.headers["Idempotency-Key"] == "k1"
    assert req.headers["Content-Type"] == "application/json"
    assert req.content.decode() == '{"text":"路灯"}'


@respx.mock
async def test_retries_5xx_and_timeouts_with_the_same_key() -> None:
    route = respx.post(f"{URL}/alerts").mock(
        side_effect=[httpx.Response(503), httpx.ConnectTimeout("slow"), httpx.Response(200)]
    )
    c = client()
    await c.post("alerts", {"a": 1}, idempotency_key="same")
    await c.aclose()
    assert route.call_count == 3
    assert {call.request.headers["Idempotency-Key"] for call in route.calls} == {"same"}


@respx.mock
async def test_gives_up_after_the_policy_with_reason() -> None:
    respx.post(f"{URL}/alerts").respond(502)
    c = client()
    with pytest.raises(PlatformUnavailable) as err:
        await c.post("alerts", {}, idempotency_key="k")
    await c.aclose()
    assert err.value.reason == "http-502"


@respx.mock
async def test_4xx_is_refused_without_retry() -> None:
    route = respx.post(f"{URL}/alerts").respond(422, text="bad incident id")
    c = client()
    with pytest.raises(PlatformRejected) as err:
        await c.post("alerts", {}, idempotency_key="k")
    await c.aclose()
    assert route.call_count == 1
    assert err.value.status == 422 and "bad incident id" in err.value.detail


@respx.mock
async def test_429_is_retried() -> None:
    route = respx.post(f"{URL}/alerts").mock(side_effect=[httpx.Response(429), httpx.Response(200)])
    c = client()
    await c.post("alerts", {}, idempotency_key="k")
    await c.aclose()
    assert route.call_count == 2


@respx.mock
async def test_breaker_opens_then_lets_one_probe_through() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, reset_after_s=10, clock=lambda: now[0])
    route = respx.post(f"{URL}/alerts").respond(500)
    c = PlatformClient("centre", URL, retry=RetryPolicy(attempts=1), breaker=breaker)
    for _ in range(2):
        with pytest.raises(PlatformUnavailable):
            await c.post("alerts", {}, idempotency_key="k")
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        await c.post("alerts", {}, idempotency_key="k")
    assert route.call_count == 2  # nothing sent while open
    now[0] = 11.0
    assert breaker.state == "half-open"
    route.respond(200)
    await c.post("alerts", {}, idempotency_key="k")
    assert breaker.state == "closed" and route.call_count == 3
    await c.aclose()


def test_breaker_failed_probe_reopens() -> None:
    now = [0.0]
    b = CircuitBreaker(threshold=1, reset_after_s=5, clock=lambda: now[0])
    b.failure()
    assert not b.allow()
    now[0] = 6
    assert b.allow() and not b.allow()  # one probe only
    b.failure()
    assert b.state == "open"


def test_backoff_has_full_jitter_and_a_cap() -> None:
    p = RetryPolicy(base_delay_s=1, max_delay_s=4)
    assert p.delay(1, rng=lambda: 1.0) == 1
    assert p.delay(3, rng=lambda: 1.0) == 4
    assert p.delay(10, rng=lambda: 1.0) == 4
    assert p.delay(3, rng=lambda: 0.0) == 0


@respx.mock
async def test_signed_when_a_secret_is_set() -> None:
    route = respx.post(f"{URL}/alerts").respond(200)
    c = client(secret="s3cret")
    await c.post("alerts", {"x": 1}, idempotency_key="k")
    await c.aclose()
    req = route.calls[0].request
    ts = req.headers["X-Linkgate-Timestamp"]
    expected = hmac.new(b"s3cret", ts.encode() + b"." + req.content, hashlib.sha256).hexdigest()
    assert req.headers["X-Linkgate-Signature"] == f"sha256={expected}"
