"""Posting to a platform through the routing colleague's `PlatformClient`, with its
failures mapped to the bus's: a refusal (4xx) is permanent (DLQ with the reason), an
outage is retried by the consumer runner's delay queues and then dead-lettered."""

from __future__ import annotations

from typing import Any

import httpx

from adapters.platforms.client import PlatformClient, PlatformRejected, RetryPolicy
from bus.errors import PermanentError
from gateway.settings import Settings

_URLS = {
    "12345": "hotline_url",
    "maritime-sar": "maritime_sar_url",
    "ocean-fishery": "ocean_fishery_url",
}


class Platforms:
    """One lazily built client per platform id (base URL and secret from settings)."""

    def __init__(self, settings: Settings, attempts: int = 2) -> None:
        self._settings = settings
        self._attempts = attempts
        self._clients: dict[str, PlatformClient] = {}

    def client(self, platform: str) -> PlatformClient:
        if platform not in self._clients:
            url = getattr(self._settings, _URLS[platform])
            if url is None:
                raise PermanentError("platform-url-not-configured", _URLS[platform].upper())
            secret = self._settings.platform_secrets.get(platform)
            self._clients[platform] = PlatformClient(
                platform,
                str(url),
                timeout_s=self._settings.destination_timeout_s,
                retry=RetryPolicy(attempts=self._attempts, base_delay_s=0.05),
                secret=secret.get_secret_value() if secret else None,
            )
        return self._clients[platform]

    async def post(
        self, platform: str, path: str, body: dict[str, Any], idempotency_key: str
    ) -> httpx.Response:
        try:
            return await self.client(platform).post(path, body, idempotency_key)
        except PlatformRejected as exc:
            raise PermanentError(f"{platform}-rejected-{exc.status}", exc.detail) from exc

    async def aclose(self) -> None:
        for c in self._clients.values():
            await c.aclose()
        self._clients.clear()
