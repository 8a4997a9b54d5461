"""Typed SMS send errors: the caller decides retry vs next contact from the type alone."""

from __future__ import annotations


class SendError(RuntimeError):
    """A message was not accepted by the provider."""

    def __init__(self, reason: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(f"{reason} (code={code}, http={status})")
        self.reason = reason
        self.code = code
        self.status = status


class RetryableSendError(SendError):
    """Network trouble, 5xx, 429 or Twilio 20429/63018: the same send may succeed later."""


class FinalSendError(SendError):
    """The provider refused this recipient for good (21610 opted out, 21211 invalid number)."""
