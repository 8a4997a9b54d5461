"""WeCom (企业微信) group robot: post markdown to a unit's group.

The API answers HTTP 200 even for errors: the `errcode` in the body decides.
45009 (rate limited, 20 messages/minute per robot) and 5xx/network are retryable;
any other nonzero errcode (bad key 93000, bad content 40058, …) is final.
"""

from __future__ import annotations

import httpx

RATE_LIMITED = 45009
RETRYABLE_ERRCODES = frozenset({RATE_LIMITED, -1})
MAX_MARKDOWN_BYTES = 4096


class WeComError(RuntimeError):
    """A post the robot did not accept."""

    def __init__(self, reason: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(f"{reason} (errcode={code}, http={status})")
        self.reason = reason
        self.code = code
        self.status = status


class RetryableWeComError(WeComError):
    """Rate limited (45009), busy (-1), 5xx, network: the same post may succeed later."""


class FinalWeComError(WeComError):
    """Refused for good (bad key, bad content)."""


class WeComRobot:
    """Posts to `/cgi-bin/webhook/send?key=...` with a shared httpx client."""

    def __init__(self, api_base: str, timeout_s: float = 5.0) -> None:
        self._base = api_base.rstrip("/")
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def send_markdown(self, key: str, content: str) -> None:
        """Post one markdown message; raise RetryableWeComError or FinalWeComError."""
        body = content.encode()
        if len(body) > MAX_MARKDOWN_BYTES:
            content = body[: MAX_MARKDOWN_BYTES - 3].decode(errors="ignore") + "…"
        try:
            resp = await self._client.post(
                f"{self._base}/cgi-bin/webhook/send",
                params={"key": key},
                json={"msgtype": "markdown", "markdown": {"content": content}},
            )
        except httpx.TransportError as exc:
            raise RetryableWeComError(f"network: {type(exc).__name__}") from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise RetryableWeComError("wecom http error", status=resp.status_code)
        if resp.status_code != 200:
            raise FinalWeComError("wecom http error", status=resp.status_code)
        try:
            answer = resp.json()
            errcode = int(answer.get("errcode", -1))
        except (ValueError, AttributeError, TypeError) as exc:
            raise RetryableWeComError("wecom answer not JSON", status=200) from exc
        if errcode == 0:
            return
        msg = str(answer.get("errmsg", ""))[:200]
        if errcode in RETRYABLE_ERRCODES:
            raise RetryableWeComError(msg or "wecom busy", str(errcode), 200)
        raise FinalWeComError(msg or "wecom refused", str(errcode), 200)

    async def close(self) -> None:
        await self._client.aclose()
