"""Bus errors: each says whether a retry can help."""

from __future__ import annotations


class BusError(RuntimeError):
    """Base of every bus failure."""


class PublishError(BusError):
    """The broker did not confirm a publish (nack, timeout, link down): it may not have it."""


class UnroutableError(PublishError):
    """The broker returned a mandatory message: no queue is bound for its routing key."""


class PermanentError(Exception):
    """Raised by a handler for a message that can never succeed: straight to the DLQ.

    `reason` is short and machine-readable (it goes into the `x-death-reason` header).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
