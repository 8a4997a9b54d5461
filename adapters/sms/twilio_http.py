"""An httpx transport for the twilio library (its own async client uses aiohttp).

httpx lets `respx` stand in for Twilio in tests, and lets `LINKGATE_TWILIO_API_BASE`
point the client at a proxy or a test double: the scheme and host of every URL the
library builds are replaced by that base.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx
from twilio.http import AsyncHttpClient
from twilio.http.response import Response

DEFAULT_BASE = "https://api.twilio.com"


class HttpxTwilioHttpClient(AsyncHttpClient):  # type: ignore[misc]
    """`twilio.http.AsyncHttpClient` over a shared `httpx.AsyncClient`."""

    def __init__(self, timeout_s: float = 10.0, api_base: str | None = None) -> None:
        import logging

        super().__init__(logging.getLogger("twilio.httpx"), True, timeout_s)
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self._base = (api_base or DEFAULT_BASE).rstrip("/")

    def _rebase(self, url: str) -> str:
        if self._base == DEFAULT_BASE:
            return url
        parts, base = urlsplit(url), urlsplit(self._base)
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (twilio interface)
        allow_redirects: bool = False,
    ) -> Response:
        """Send one request; network errors propagate as httpx exceptions."""
        resp = await self._client.request(
            method.upper(),
            self._rebase(uri),
            params=params,  # type: ignore[arg-type]
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout or self.timeout,
            follow_redirects=allow_redirects,
        )
        return Response(resp.status_code, resp.text, resp.headers)

    async def close(self) -> None:
        await self._client.aclose()
