"""Bad input at every door: oversized, deep or entity-laden XML, invalid UTF-8, wrong
content types, deep JSON. Each gets a clear 4xx, and nothing reaches the bus.

The WeChat channel's own tests (tests/channels/test_wechat.py) cover its signature and
crypto failures and the billion-laughs / deep fixtures; these are the app-wide doors
(body limit middleware, every webhook, the JSON API) seen by a peer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.security.conftest import API_KEY, sms_form, twilio_signed, wechat_query

SMS = "/webhooks/twilio/sms"
WECHAT = "/webhooks/wechat"
KEY = {"X-API-Key": API_KEY}

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&e;</Content><MsgId>2</MsgId></xml>"""
DEEP_XML = b"<xml>" + b"<a>" * 5000 + b"x" + b"</a>" * 5000 + b"</xml>"
WIDE_XML = b"<xml>" + b"<MsgId>1</MsgId><a/>" * 20000 + b"</xml>"
TEXT_XML = (
    "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o2]]></FromUserName>"
    "<CreateTime>1763864107</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[{}]]></Content><MsgId>77</MsgId></xml>"
)


@pytest.fixture
async def door(
    sec_app: tuple[Any, httpx.AsyncClient], bus_probe: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    _, client = sec_app
    probe = await bus_probe("#")
    yield client, probe
    await probe.assert_nothing(within=0.5)  # whatever was refused published nothing


def clear_4xx(r: httpx.Response, *allowed: int) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    if allowed:
        assert r.status_code in allowed, (r.status_code, r.text[:300])


async def chunks(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_oversized_bodies_are_413_before_anything_parses_them(
    door: tuple[httpx.AsyncClient, Any], sec_app: tuple[Any, httpx.AsyncClient]
) -> None:
    client, _ = door
    app, _ = sec_app
    limit = app.state.settings.max_body_bytes
    big_form = sms_form("着火" * (limit // 2))
    r = await client.post(SMS, data=big_form, headers=twilio_signed(SMS, big_form))
    clear_4xx(r, 413)
    r = await client.post(WECHAT, params=wechat_query(), content=b"<xml>" + b"a" * limit * 2)
    clear_4xx(r, 413)
    # under the app's limit but over WeChat's own (64 KiB): still a 413
    body = TEXT_XML.format("火" * 30000).encode()
    r = await client.post(WECHAT, params=wechat_query(), content=body)
    clear_4xx(r, 413)
    r = await client.post("/v1/routing/dry-run", headers=KEY, json={"text": "火" * limit})
    clear_4xx(r, 413)
    # no Content-Length (chunked): counted as it arrives, refused all the same
    r = await client.post(
        "/v1/orders", headers=KEY | {"Content-Type": "application/json"},
        content=chunks(b'{"x":"' + b"a" * (limit + 10) + b'"}'),
    )
    clear_4xx(r, 413)
    r = await client.post("/v1/orders", headers=KEY, content=b"", )
    clear_4xx(r)
    r = await client.post(SMS, headers={"Content-Length": "99999999999"}, content=b"")
    clear_4xx(r, 413)


@pytest.mark.parametrize(
    "name,body",
    [
        ("billion-laughs", BILLION_LAUGHS),
        ("external-entity", XXE),
        ("deep", DEEP_XML),
        ("wide", WIDE_XML),
        ("not-xml", b"{\"MsgId\": 1}"),
        ("truncated", b"<xml><MsgId>1</MsgId>"),
        ("invalid-utf8", TEXT_XML.format("火").encode().replace("火".encode(), b"\xff\xfe\xfd")),
        ("empty", b""),
    ],
)
async def test_hostile_xml_to_the_wechat_webhook_is_400(
    door: tuple[httpx.AsyncClient, Any], name: str, body: bytes
) -> None:
    client, _ = door
    r = await client.post(
        WECHAT, params=wechat_query(), content=body, headers={"Content-Type": "text/xml"}
    )
    clear_4xx(r, 400, 413)
    assert "lol" * 10 not in r.text and "root:" not in r.text


async def test_wrong_content_types_are_refused(door: tuple[httpx.AsyncClient, Any]) -> None:
    client, _ = door
    form = sms_form()
    # a JSON body where Twilio sends a form: the signature cannot match
    r = await client.post(SMS, json=form, headers=twilio_signed(SMS, form))
    clear_4xx(r)
    # the JSON API given a form, text, XML
    for headers, content in [
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"text=fire"),
        ({"Content-Type": "text/plain"}, "着火了".encode()),
        ({"Content-Type": "application/xml"}, b"<text>fire</text>"),
    ]:
        r = await client.post("/v1/routing/dry-run", headers=KEY | headers, content=content)
        clear_4xx(r)
        r = await client.post("/v1/orders", headers=KEY | headers, content=content)
        clear_4xx(r)


async def test_invalid_utf8_is_a_clear_4xx(door: tuple[httpx.AsyncClient, Any]) -> None:
    client, _ = door
    raw = b'{"text": "\xff\xfe fire", "channel": "sms"}'
    r = await client.post(
        "/v1/routing/dry-run", headers=KEY | {"Content-Type": "application/json"}, content=raw
    )
    clear_4xx(r)
    r = await client.post(
        "/v1/orders", headers=KEY | {"Content-Type": "application/json"}, content=raw
    )
    clear_4xx(r)
    # a Twilio-style form with raw invalid bytes (unsigned and unsignable)
    r = await client.post(
        SMS, headers={"Content-Type": "application/x-www-form-urlencoded"},
        content=b"MessageSid=SM" + b"0" * 32 + b"&Body=\xff\xfe&From=%2B8613800000000",
    )
    clear_4xx(r)


async def test_deep_and_huge_json_is_a_clear_4xx(door: tuple[httpx.AsyncClient, Any]) -> None:
    client, _ = door
    for payload in (b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 20_000 + b"1" + b"}" * 20_000):
        r = await client.post(
            "/v1/routing/dry-run",
            headers=KEY | {"Content-Type": "application/json"},
            content=payload,
        )
        clear_4xx(r)
    r = await client.post(
        "/v1/routing/dry-run", headers=KEY, json={"text": "x", "channel": "sms" * 1000}
    )
    clear_4xx(r, 422)
    r = await client.post("/v1/routing/dry-run", headers=KEY, content=json.dumps(None))
    clear_4xx(r)


async def test_a_chunked_body_under_the_limit_reaches_the_handler_intact(
    sec_app: tuple[Any, httpx.AsyncClient],
) -> None:
    """The body limit reads a body without Content-Length itself: it must hand it on whole."""
    _, client = sec_app
    body = json.dumps({"text": "楼下着火了，有人被困" + "。" * 3000, "channel": "sms"}).encode()
    r = await client.post(
        "/v1/routing/dry-run", headers=KEY | {"Content-Type": "application/json"},
        content=chunks(body, size=1000),
    )
    assert r.status_code == 200, r.text
    assert r.json()["destination"] == "command-centre"
