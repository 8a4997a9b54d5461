"""Our safe-mode crypto against wechatpy's, both ways, on arbitrary text (property-based)."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto

from adapters.wechat.crypto import WeChatCryptoError, aes_key, check_signature, decrypt, encrypt
from tests.channels.conftest import WECHAT_AES, WECHAT_APPID, WECHAT_TOKEN

KEY = aes_key(WECHAT_AES)
THEIRS = WeChatCrypto(WECHAT_TOKEN, WECHAT_AES, WECHAT_APPID)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=300)


def _xml(content: str) -> str:
    return f"<xml><Content><![CDATA[{content.replace(']]>', '')}]]></Content></xml>"


@settings(max_examples=150, deadline=None)
@given(TEXT)
def test_we_decrypt_what_wechatpy_encrypts(content: str) -> None:
    xml = _xml(content)
    body = THEIRS.encrypt_message(xml, "nonce", "1763864107")
    encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", body).group(1)  # type: ignore[union-attr]
    signature = re.search(r"<MsgSignature><!\[CDATA\[(\w+)\]\]>", body).group(1)  # type: ignore[union-attr]
    assert check_signature(signature, WECHAT_TOKEN, "1763864107", "nonce", encrypted)
    assert decrypt(encrypted, KEY, WECHAT_APPID) == xml.encode()


@settings(max_examples=150, deadline=None)
@given(TEXT)
def test_wechatpy_decrypts_what_we_encrypt(content: str) -> None:
    xml = _xml(content)
    encrypted = encrypt(xml.encode(), KEY, WECHAT_APPID, os.urandom(16))
    from wechatpy.crypto import _get_signature

    sig = _get_signature(WECHAT_TOKEN, "1763864107", "nonce", encrypted)
    wrapped = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    assert THEIRS.decrypt_message(wrapped, sig, "1763864107", "nonce") == xml


def test_wrong_app_id_and_truncated_ciphertext_are_refused() -> None:
    encrypted = encrypt(b"<xml/>", KEY, "wxother", os.urandom(16))
    with pytest.raises(WeChatCryptoError) as exc:
        decrypt(encrypted, KEY, WECHAT_APPID)
    assert exc.value.reason == "wrong-app-id"
    with pytest.raises(WeChatCryptoError):
        decrypt(encrypted[:-8], KEY, WECHAT_APPID)
