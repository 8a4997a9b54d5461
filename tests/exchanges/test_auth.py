"""HMAC-signed platform requests: accepted when right, refused when tampered, stale,
replayed, unsigned, from an unknown platform, or from a platform that may not call."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import AnyUrl

from gateway.settings import Settings
from tests.exchanges.conftest import signed_headers, signed_post

Probe = Callable[..., Awaitable[Any]]
TICKET = {"ticket_id": "GD20261123-0001", "text": "12345接到来电:小区电梯困人,有老人被困", "caller": "13957800999"}


async def test_signed_request_accepted(pclient: httpx.AsyncClient) -> None:
    r = await signed_post(pclient, "/v1/tickets", TICKET)
    assert r.status_code == 201, r.text


async def test_tampered_stale_replayed_unsigned_refused(
    pclient: httpx.AsyncClient, bus_probe: Probe
) -> None:
    probe = await bus_probe("#")
    path = "/v1/tickets"
    body = json.dumps(TICKET).encode()
    headers = signed_headers("POST", path, body)
    tampered = body.replace(b"0001", b"0002")
    r = await pclient.post(path, content=tampered, headers=headers)
    assert (r.status_code, r.json()["detail"]) == (401, "bad-signature")
    stale = signed_headers("POST", path, body, ts=int(time.time()) - 301)
    r = await pclient.post(path, content=body, headers=stale)
    assert (r.status_code, r.json()["detail"]) == (401, "stale-timestamp")
    future = signed_headers("POST", path, body, ts=int(time.time()) + 400)
    assert (await pclient.post(path, content=body, headers=future)).status_code == 401
    r = await pclient.post(path, content=body, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["detail"]) == (401, "missing-signature-headers")
    wrong_key = signed_headers("POST", path, body, secret="guess")
    assert (await pclient.post(path, content=body, headers=wrong_key)).json()["detail"] == "bad-signature"
    other_path = signed_headers("POST", "/v1/tickets/X/status", body)
    assert (await pclient.post(path, content=body, headers=other_path)).status_code == 401
    unknown = signed_headers("POST", path, body, platform="evil", secret="x")
    assert (await pclient.post(path, content=body, headers=unknown)).json()["detail"] == "unknown-platform"
    await probe.assert_nothing(within=0.3)
    # the right request passes once; the same signed request again is a replay
    r = await pclient.post(path, content=body, headers=headers)
    assert r.status_code == 201
    r = await pclient.post(path, content=body, headers=headers)
    assert (r.status_code, r.json()["detail"]) == (401, "replayed")


async def test_sea_centre_may_not_post_tickets(pclient: httpx.AsyncClient) -> None:
    r = await signed_post(pclient, "/v1/tickets", TICKET, platform="maritime-sar")
    assert (r.status_code, r.json()["detail"]) == (403, "platform-not-allowed")


async def test_signed_but_invalid_body_is_422_and_publishes_nothing(
    pclient: httpx.AsyncClient, bus_probe: Probe
) -> None:
    probe = await bus_probe("#")
    r = await signed_post(pclient, "/v1/tickets", {"ticket_id": "T-1"})
    assert (r.status_code, r.json()["detail"]) == (422, "invalid-request")
    r = await signed_post(pclient, "/v1/tickets", TICKET | {"lat": 28.4})
    assert (r.status_code, r.json()["detail"]) == (422, "lat-lon-together")
    await probe.assert_nothing(within=0.3)


def test_docs_worked_example_signature() -> None:
    """docs/orders.md shows this signature: the integrator's reference must stay true."""
    from gateway.exchanges.auth import sign

    body = '{"ticket_id":"GD20261123-0042","text":"来电称家中老人昏迷","caller":"13957800888"}'
    sig = sign("s3cret-12345", "POST", "/v1/tickets", "1795400000", "8f14e45fceea167a",
               body.encode())
    assert sig == "6ab46aa78414510ac3c4a3025ade4f9d6986bc01674dbdf6939f09ef4034b3eb"


async def test_path_prefix_of_the_public_url_is_signed(
    xsettings: Settings, app_factory: Callable[..., Awaitable[Any]]
) -> None:
    """Behind a reverse proxy the platform calls https://gw.example/linkgate/v1/tickets:
    it signs the path it called, prefix included."""
    s = xsettings.model_copy(update={"public_base_url": AnyUrl("https://gw.example/linkgate")})
    _, c = await app_factory(s, api_key=None)
    body = json.dumps(TICKET).encode()
    r = await c.post("/v1/tickets", content=body, headers=signed_headers("POST", "/v1/tickets", body))
    assert r.json()["detail"] == "bad-signature"
    headers = signed_headers("POST", "/linkgate/v1/tickets", body)
    r = await c.post("/v1/tickets", content=body, headers=headers)
    assert r.status_code == 201, r.text
