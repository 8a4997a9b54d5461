"""A centre's alert intake: what every destination adapter delivers, and how.

The body is the routed alert's CloudEvent itself (structured JSON, contract v1): the
centre gets the text, caller (callback number), location, category, incident id
(`subject`), the routing decision, and `status` — so a drill is never taken for a real
incident. The `Idempotency-Key` is the event id, the same on every retry and replay.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.platforms.client import CircuitBreaker, PlatformClient, RetryPolicy
from contracts import Destination
from contracts.envelope import CloudEvent

ALERTS_PATH = "alerts"
EVENTS_PATH = "events"


@dataclass(frozen=True)
class CentreConfig:
    """Where a centre's platform is and how patient to be with it."""

    destination: Destination
    base_url: str
    timeout_s: float = 5.0
    secret: str | None = None
    attempts: int = 3
    breaker_threshold: int = 5
    breaker_reset_s: float = 30.0


class CentreAdapter:
    """Delivers routed alerts to one centre over HTTP."""

    def __init__(self, config: CentreConfig, client: PlatformClient | None = None) -> None:
        self.config = config
        self.destination = config.destination
        self.client = client or PlatformClient(
            config.destination.value,
            config.base_url,
            timeout_s=config.timeout_s,
            retry=RetryPolicy(attempts=config.attempts),
            breaker=CircuitBreaker(
                threshold=config.breaker_threshold, reset_after_s=config.breaker_reset_s
            ),
            secret=config.secret,
        )

    async def deliver(self, event: CloudEvent) -> None:
        """POST the event; raises PlatformRejected / PlatformUnavailable on failure."""
        await self.client.post(
            ALERTS_PATH, event.model_dump(mode="json", exclude_none=True), idempotency_key=event.id
        )

    async def notify(self, event: CloudEvent) -> None:
        """POST an operational notice (a breach, an undeliverable order, a sea centre's
        status) to the centre's event intake; same guarantees as `deliver`."""
        await self.client.post(
            EVENTS_PATH, event.model_dump(mode="json", exclude_none=True), idempotency_key=event.id
        )

    async def aclose(self) -> None:
        await self.client.aclose()
