"""Twilio webhook signatures, checked against the URL Twilio called (the public one).

Behind a proxy the app sees its own host; Twilio signed `LINKGATE_PUBLIC_BASE_URL`
+ path + query string, so that is what we validate against.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator


def public_url(base: str, path: str, query: str) -> str:
    """The URL as the peer saw it: public base + request path (+ `?query`)."""
    url = base.rstrip("/") + path
    return f"{url}?{query}" if query else url


def valid_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """True only for a present signature that twilio's own validator accepts."""
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))
