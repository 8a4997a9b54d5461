"""Send one SMS through the twilio library and classify what went wrong.

Retryable: network errors, HTTP 5xx and 429, Twilio 20429 (too many requests) and
63018 (rate limit of the sender). Everything else the API refuses (21610 opted out,
21211/21614 invalid or non-mobile number, …) is final for that recipient.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from adapters.sms.errors import FinalSendError, RetryableSendError
from adapters.sms.twilio_http import HttpxTwilioHttpClient

RETRYABLE_CODES = frozenset({20429, 63018, 20500, 20503})


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str


class TwilioSender:
    """One Twilio account and sender number; `send` is safe to call concurrently."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._http = HttpxTwilioHttpClient(timeout_s=timeout_s, api_base=api_base)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._from = from_number

    async def send(self, to: str, body: str, status_callback: str | None = None) -> SentMessage:
        """Hand one message to Twilio; raise RetryableSendError or FinalSendError."""
        try:
            msg = await self._client.messages.create_async(
                to=to, from_=self._from, body=body, status_callback=status_callback
            )
        except TwilioRestException as exc:
            raise classify(exc.status, exc.code, exc.msg) from exc
        except (httpx.TransportError, TimeoutError, OSError) as exc:
            raise RetryableSendError(f"network: {type(exc).__name__}") from exc
        except TwilioException as exc:  # unparseable answer: treat like a 5xx
            raise RetryableSendError(f"bad answer: {exc}") from exc
        return SentMessage(sid=str(msg.sid), status=str(msg.status or "queued"))

    async def close(self) -> None:
        await self._http.close()


def classify(
    status: int, code: int | None, message: str = ""
) -> RetryableSendError | FinalSendError:
    """The typed error for an HTTP status and Twilio error code."""
    reason = (message or "twilio error")[:200]
    code_s = str(code) if code is not None else None
    if status >= 500 or status == 429 or (code is not None and code in RETRYABLE_CODES):
        return RetryableSendError(reason, code_s, status)
    return FinalSendError(reason, code_s, status)
