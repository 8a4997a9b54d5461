"""Every endpoint that is not a peer's webhook (signed instead) or a liveness probe
requires a credential: walked from the app's own routes, so a new endpoint is covered
the day it is added."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.chaos.stack import iter_routes
from tests.security.conftest import API_KEY

# open on purpose: orchestrator probes, the board's static JS/CSS (code, no data);
# peers' webhooks authenticate by signature instead
PUBLIC = {"/healthz", "/readyz", "/board/static/{name}"}
WEBHOOK_PREFIX = "/webhooks/"
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def endpoints(app: Any) -> list[tuple[str, str]]:
    out = []
    for path, methods, _ in iter_routes(app.routes):
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            out.append((method, path))
    return sorted(set(out))


async def test_every_non_webhook_endpoint_refuses_a_caller_without_credentials(
    sec_app: tuple[Any, httpx.AsyncClient],
) -> None:
    app, client = sec_app
    open_ = []
    checked = 0
    for method, path in endpoints(app):
        if path in PUBLIC or path in DOCS or path.startswith(WEBHOOK_PREFIX):
            continue
        r = await client.request(method, concrete(path), json={}, timeout=5)
        checked += 1
        if r.status_code not in (401, 403):
            open_.append((method, path, r.status_code))
    assert checked >= 20
    assert open_ == [], f"answered without credentials: {open_}"


async def test_a_wrong_key_is_refused_and_the_right_one_accepted(
    sec_app: tuple[Any, httpx.AsyncClient],
) -> None:
    _, client = sec_app
    r = await client.get("/v1/units", headers={"X-API-Key": "not-" + API_KEY})
    assert r.status_code == 401 and r.json()["detail"] == "invalid-api-key"
    r = await client.get("/v1/units", headers={"Authorization": "Bearer " + API_KEY[:-1]})
    assert r.status_code == 401
    r = await client.get("/v1/units", headers={"X-API-Key": API_KEY})
    assert r.status_code == 200


async def test_webhooks_refuse_unsigned_requests(sec_app: tuple[Any, httpx.AsyncClient]) -> None:
    app, client = sec_app
    hooks = [(m, p) for m, p in endpoints(app) if p.startswith(WEBHOOK_PREFIX)]
    assert hooks, "no webhooks mounted"
    for method, path in hooks:
        r = await client.request(method, path, data={"MessageSid": "SM" + "0" * 32})
        assert r.status_code in (401, 403), (method, path, r.status_code, r.text)


async def test_docs_exposure_is_known(sec_app: tuple[Any, httpx.AsyncClient]) -> None:
    """The OpenAPI document and docs UI are readable without a key (they describe, they do
    not act); recorded here so that changing it is a decision, not an accident."""
    _, client = sec_app
    r = await client.get("/openapi.json")
    assert r.status_code in (200, 401, 403)
