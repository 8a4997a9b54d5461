"""`POST /v1/routing/dry-run`: the same answer as `linkgate route`, authenticated."""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.routing.cli import route_command


async def test_dry_run_matches_the_cli(app_factory: Callable[..., Awaitable[Any]]) -> None:
    _, client = await app_factory()
    for text, channel in [("路燈壞了", "sms"), ("渔船进水了", "call"), ("小区门口有个人", "api")]:
        r = await client.post("/v1/routing/dry-run", json={"text": text, "channel": channel})
        assert r.status_code == 200, r.text
        out = io.StringIO()
        route_command(text=text, channel=channel, rules_file=None, stdout=out)
        assert r.json() == json.loads(out.getvalue())


async def test_dry_run_uses_every_field(app_factory: Callable[..., Awaitable[Any]]) -> None:
    _, client = await app_factory()
    r = await client.post("/v1/routing/dry-run", json={"text": "?", "at_sea": True})
    assert r.json()["destination"] == "maritime-sar" and r.json()["rule"] == "sea.located"


async def test_dry_run_refuses_bad_input_and_anonymous(
    app_factory: Callable[..., Awaitable[Any]],
) -> None:
    _, client = await app_factory()
    r = await client.post("/v1/routing/dry-run", json={"text": "x", "channel": "fax"})
    assert r.status_code == 422 and r.json()["detail"] == "invalid-request"
    r = await client.post("/v1/routing/dry-run", json={"text": "x", "colour": "red"})
    assert r.status_code == 422
    _, anonymous = await app_factory(api_key=None)
    r = await anonymous.post("/v1/routing/dry-run", json={"text": "x"})
    assert r.status_code == 401
