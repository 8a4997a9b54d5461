"""WeChat callback through the real app: verification, plain and safe mode, XML attacks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from typing import Any

import pytest
from wechatpy.crypto import WeChatCrypto

from gateway.settings import Settings
from tests.channels.conftest import FIXTURES, WECHAT_AES, WECHAT_APPID, WECHAT_TOKEN, wechat_query

PATH = "/webhooks/wechat"


@pytest.fixture
async def wx(app_factory: Any, chan_settings: Settings) -> Any:
    _, client = await app_factory(chan_settings)
    return client


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def encrypted(
    xml: bytes, aes: str = WECHAT_AES, appid: str = WECHAT_APPID
) -> tuple[bytes, dict[str, str]]:
    """Safe-mode body and query, encrypted by wechatpy (an independent implementation)."""
    query = wechat_query(encrypt_type="aes", openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    crypto = WeChatCrypto(WECHAT_TOKEN, aes, appid)
    body = crypto.encrypt_message(xml.decode(), query["nonce"], query["timestamp"])
    import re

    query["msg_signature"] = re.search(r"<MsgSignature><!\[CDATA\[(\w+)\]\]>", body).group(1)  # type: ignore[union-attr]
    return body.encode(), query


async def test_url_verification_echoes_and_refuses_bad_signature(wx: Any) -> None:
    q = wechat_query(echostr="8848123456")
    r = await wx.get(PATH, params=q)
    assert r.status_code == 200 and r.text == "8848123456"
    r = await wx.get(PATH, params={**q, "signature": "0" * 40})
    assert r.status_code == 403


CASES = [
    ("wechat_text.xml", "我們的漁船在東極島附近進水了，船上有五個人", None, []),
    ("wechat_location.xml", "浙江省丽水市莲都区沿江路88号", (28.4511, 119.9228), []),
    (
        "wechat_image.xml",
        "",
        None,
        ["image:media_id_image_01", "image:http://mmbiz.qpic.cn/mmbiz_jpg/abc/0"],
    ),
    ("wechat_voice.xml", "救命 有人落水了", None, ["voice:media_id_voice_01"]),
]


async def test_messages_become_alerts_in_plain_and_safe_mode(wx: Any, bus_probe: Any) -> None:
    probe = await bus_probe("alert.received.#")
    for mode in ("plain", "aes"):
        for name, text, latlon, media in CASES:
            xml = fixture(name)
            if mode == "aes":
                body, query = encrypted(xml)
            else:
                body, query = xml, wechat_query()
            r = await wx.post(PATH, params=query, content=body)
            assert r.status_code == 200 and r.text == "success", (mode, name)
            if mode == "aes":  # the same MsgId again (plain before): deduplicated
                continue
            [(key, event)] = await probe.take_with_keys(1)
            data = event.data
            assert key == "alert.received.wechat" and data["channel"] == "wechat"
            assert data["text"] == text and data["reporter"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
            assert [f"{m['kind']}:{m['ref']}" for m in data["media"]] == media
            if latlon:
                assert (data["location"]["lat"], data["location"]["lon"]) == latlon
                assert data["location"]["address"] == text
            create_time = int(xml.split(b"<CreateTime>")[1].split(b"<")[0])
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(create_time))
            assert data["received_at"].startswith(stamp)
    await probe.assert_nothing(0.3)


async def test_safe_mode_messages_become_alerts(wx: Any, bus_probe: Any) -> None:
    probe = await bus_probe("alert.received.#")
    for name, text, _, media in CASES:
        body, query = encrypted(fixture(name))
        r = await wx.post(PATH, params=query, content=body)
        assert r.status_code == 200 and r.text == "success", name
        [event] = await probe.take(1)
        assert event.data["text"] == text
        assert [f"{m['kind']}:{m['ref']}" for m in event.data["media"]] == media


async def test_event_is_answered_and_publishes_nothing(wx: Any, bus_probe: Any) -> None:
    probe = await bus_probe("#")
    r = await wx.post(PATH, params=wechat_query(), content=fixture("wechat_event_subscribe.xml"))
    assert r.status_code == 200 and r.text == "success"
    await probe.assert_nothing(0.3)


def _flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[20] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


BAD = [
    ("no-signature", 403),
    ("bad-signature", 403),
    ("stale-timestamp", 403),
    ("bad-msg-signature", 403),
    ("other-app-id", 403),
    ("other-aes-key", 400),
    ("garbled-ciphertext", 400),
    ("billion-laughs", 400),
    ("too-deep", 400),
    ("not-xml", 400),
    ("huge", 413),
]


async def test_bad_requests_are_refused_and_publish_nothing(wx: Any, bus_probe: Any) -> None:
    probe = await bus_probe("#")
    for case, status in BAD:
        body, query = encrypted(fixture("wechat_text.xml"))
        if case == "no-signature":
            query.pop("signature")
        elif case == "bad-signature":
            query["signature"] = "0" * 40
        elif case == "stale-timestamp":
            ts = str(int(time.time()) - 3600)
            sig = hashlib.sha1(
                "".join(sorted([WECHAT_TOKEN, ts, query["nonce"]])).encode()
            ).hexdigest()
            query.update(timestamp=ts, signature=sig)
        elif case == "bad-msg-signature":
            query["msg_signature"] = "0" * 40
        elif case == "other-app-id":
            body, query = encrypted(fixture("wechat_text.xml"), appid="wx0000000000000000")
        elif case == "other-aes-key":
            body, query = encrypted(fixture("wechat_text.xml"), aes="B" * 43)
        elif case == "garbled-ciphertext":
            # re-sign a tampered ciphertext: the signature is right, the content is not
            enc = body.decode().split("<Encrypt><![CDATA[")[1].split("]]>")[0]
            bad = _flip(enc)
            body = body.replace(enc.encode(), bad.encode())
            query["msg_signature"] = hashlib.sha1(
                "".join(sorted([WECHAT_TOKEN, query["timestamp"], query["nonce"], bad])).encode()
            ).hexdigest()
        elif case == "huge":
            query = wechat_query()
            body = b"<xml><MsgId>1</MsgId><Content>" + "火".encode() * 40_000 + b"</Content></xml>"
        elif case in ("billion-laughs", "too-deep", "not-xml"):
            query = wechat_query()
            name = {"billion-laughs": "wechat_billion_laughs.xml", "too-deep": "wechat_deep.xml"}
            body = fixture(name[case]) if case in name else b"<xml><MsgId>1</MsgId>"
        r = await wx.post(PATH, params=query, content=body)
        assert r.status_code == status, (case, r.text)
    await probe.assert_nothing(0.3)


async def test_retries_and_overlapping_retries_publish_once(wx: Any, bus_probe: Any) -> None:
    probe = await bus_probe("alert.received.#")
    body, query = encrypted(fixture("wechat_text.xml"))
    answers = await asyncio.gather(*(wx.post(PATH, params=query, content=body) for _ in range(4)))
    assert [a.text for a in answers] == ["success"] * 4
    again = await wx.post(PATH, params=wechat_query(), content=fixture("wechat_text.xml"))
    assert again.text == "success"
    await probe.take(1)
    await probe.assert_nothing(0.3)
    # an event is deduplicated by FromUserName+CreateTime+Event
    probe2 = await bus_probe("#")
    for _ in range(2):
        r = await wx.post(
            PATH, params=wechat_query(), content=fixture("wechat_event_subscribe.xml")
        )
        assert r.text == "success"
    await probe2.assert_nothing(0.2)
