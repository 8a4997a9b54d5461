"""AMI adapter errors: each says what the caller can still know about the action."""

from __future__ import annotations

from adapters.ami.frame import Frame


class AmiError(Exception):
    """Base of every AMI adapter error."""


class AmiAuthError(AmiError):
    """Asterisk refused our credentials (or answered the login with something odd)."""


class AmiProtocolError(AmiError):
    """The peer does not speak AMI as Asterisk does (bad banner, garbage frames)."""


class AmiNotConnected(AmiError):
    """No logged-in link right now; the action was NOT sent."""


class AmiTimeout(AmiError, TimeoutError):
    """No answer in time. The action may or may not have been carried out."""


class AmiLinkLost(AmiError, ConnectionError):
    """The link dropped after the action was sent: its outcome is unknown, it is never
    re-sent; find out from Asterisk's state (CoreShowChannels) what really happened."""


class AmiActionError(AmiError):
    """Asterisk answered `Response: Error`; `message` is its exact text."""

    def __init__(self, action: str, response: Frame) -> None:
        self.action = action
        self.response = response
        self.message = response.get("Message") or ""
        super().__init__(f"{action}: {self.message or response.name}")
