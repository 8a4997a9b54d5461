"""WeChat official-account callback security: signatures and safe-mode (AES) messages.

Safe mode: AES-256-CBC, key = base64(EncodingAESKey + "="), IV = key[:16], PKCS#7
padding to 32-byte blocks (not AES's 16); plaintext = 16 random bytes + 4-byte big-endian
length + XML + app id. We check the padding, the length and the app id tail, so a
message encrypted for another account, or garbled, is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class WeChatCryptoError(ValueError):
    """A signature or ciphertext that does not check out; `reason` is machine-readable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def signature(*parts: str) -> str:
    """sha1 of the sorted, concatenated parts (token, timestamp, nonce[, Encrypt])."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_signature(expected: str | None, *parts: str) -> bool:
    """Constant-time comparison of a presented signature with the one we compute."""
    if not expected:
        return False
    return hmac.compare_digest(expected.lower().encode(), signature(*parts).encode())


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key from the 43-character EncodingAESKey."""
    try:
        key = base64.b64decode(encoding_aes_key + "=")
    except binascii.Error as exc:
        raise WeChatCryptoError("bad-aes-key") from exc
    if len(key) != 32:
        raise WeChatCryptoError("bad-aes-key")
    return key


def decrypt(encrypted_b64: str, key: bytes, app_id: str) -> bytes:
    """Decrypt a safe-mode `Encrypt` field into the inner XML (bytes)."""
    try:
        data = base64.b64decode(encrypted_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WeChatCryptoError("bad-ciphertext") from exc
    if not data or len(data) % 16:
        raise WeChatCryptoError("bad-ciphertext")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if pad < 1 or pad > BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise WeChatCryptoError("bad-padding")
    body = plain[16:-pad]
    if len(body) < 4:
        raise WeChatCryptoError("bad-length")
    (length,) = struct.unpack(">I", body[:4])
    xml, tail = body[4 : 4 + length], body[4 + length :]
    if len(xml) != length:
        raise WeChatCryptoError("bad-length")
    if not hmac.compare_digest(tail, app_id.encode()):
        raise WeChatCryptoError("wrong-app-id")
    return xml


def encrypt(xml: bytes, key: bytes, app_id: str, random16: bytes) -> str:
    """Encrypt inner XML for a safe-mode reply (the inverse of `decrypt`)."""
    body = random16 + struct.pack(">I", len(xml)) + xml + app_id.encode()
    pad = BLOCK - len(body) % BLOCK
    body += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(body) + encryptor.finalize()).decode()
