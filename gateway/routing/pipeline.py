"""The router's consumers: classify received alerts, then deliver them, one queue per centre.

```
alert.received.*  ──► router.classify ──► alert.routed.<destination>
alert.routed.*    ──► deliver.command-centre   (every decision: the centre keeps the picture)
alert.routed.12345 ─► deliver.12345
alert.routed.maritime-sar ──► deliver.maritime-sar
alert.routed.ocean-fishery ─► deliver.ocean-fishery
```

Each delivery queue is durable and has its own consumer, so one slow or dead centre holds
up nobody else; its messages wait (retry, then `deliver.<dest>.dlq` with the reason). A
centre that prefers AMQP can consume its `deliver.<dest>` queue directly instead.
The routed event's id is derived from the received event's id, so a classification
that runs twice (crash before ack) publishes the same id and is delivered once.
"""

from __future__ import annotations

import asyncio
import hashlib

import structlog
from pydantic import BaseModel
from redis.asyncio import Redis

from adapters.platforms import CentreAdapter, CentreConfig, PlatformRejected
from bus.consumer import ConsumerRunner, ConsumerSpec, Handler
from bus.errors import PermanentError
from bus.publisher import Publisher
from bus.topology import declare_consumer_queue
from contracts import Alert, Destination, RoutedAlert, make_event
from contracts.envelope import CloudEvent
from gateway.logging import mask_phone
from gateway.routing.reload import RulesHolder
from gateway.settings import Settings

log = structlog.get_logger(__name__)

CLASSIFY_QUEUE = "router.classify"
SOURCE = "/linkgate/router"
_URL_FIELDS = {
    Destination.COMMAND_CENTRE: "command_centre_url",
    Destination.HOTLINE_12345: "hotline_url",
    Destination.MARITIME_SAR: "maritime_sar_url",
    Destination.OCEAN_FISHERY: "ocean_fishery_url",
}


def delivery_queue(destination: Destination) -> str:
    return f"deliver.{destination.value}"


def delivery_bindings(destination: Destination) -> list[str]:
    """The command centre gets every routed alert; the others only their own."""
    if destination is Destination.COMMAND_CENTRE:
        return ["alert.routed.*"]
    return [f"alert.routed.{destination.value}"]


def routed_event_id(received_id: str) -> str:
    """Deterministic id of the routed event for a received event."""
    return "rt-" + hashlib.sha256(received_id.encode()).hexdigest()[:32]


def centre_config(settings: Settings, destination: Destination) -> CentreConfig | None:
    """The centre's HTTP config from settings, or None when its URL is not set."""
    url = getattr(settings, _URL_FIELDS[destination])
    if url is None:
        return None
    secret = settings.platform_secrets.get(destination.value)
    return CentreConfig(
        destination=destination,
        base_url=str(url),
        timeout_s=settings.destination_timeout_s,
        secret=secret.get_secret_value() if secret is not None else None,
    )


def classify_handler(holder: RulesHolder, publisher: Publisher) -> Handler:
    """Decide where a received alert goes and publish `alert.routed.<destination>`."""

    async def handle(event: CloudEvent, model: BaseModel) -> None:
        if not isinstance(model, Alert):
            raise PermanentError("unexpected-type", f"{event.type} on {CLASSIFY_QUEUE}")
        engine = holder.engine  # one read: the whole decision uses one rule set
        decision = engine.classify_alert(model)
        routed = make_event(
            RoutedAlert(alert=model, decision=decision),
            source=SOURCE,
            subject=model.incident_id,
            status=event.status,
            traceparent=event.traceparent,
            event_id=routed_event_id(event.id),
        )
        await publisher.publish(routed)
        log.info(
            "router.routed",
            alert_id=model.alert_id,
            incident_id=model.incident_id,
            caller=mask_phone(model.caller or ""),
            destination=decision.destination.value,
            rule=decision.rule,
            category=decision.category,
            emergency=decision.emergency,
            rules=engine.digest,
            status=event.status.value,
        )

    return handle


NOTICE_QUEUE = "notify.command-centre"
NOTICE_BINDINGS = [
    "order.sla.breached",
    "order.delivery.fallback",
    "order.delivery.exhausted",
    "order.feedback.reinforcement",
    "order.feedback.refused",
    "order.feedback.handed_over",
    "sea.handover.*",
    "ticket.transfer.inbound",
    "call.threeway.failed",
]
"""What the command centre must be told at once, beyond the alerts themselves."""


def notice_handler(adapter: CentreAdapter) -> Handler:
    """POST a notice to the command centre; a refusal is poison, an outage is retried."""

    async def handle(event: CloudEvent, model: BaseModel) -> None:
        try:
            await adapter.notify(event)
        except PlatformRejected as exc:
            raise PermanentError(exc.reason, exc.detail) from exc
        log.info("router.notified", type=event.type, subject=event.subject, id=event.id)

    return handle


def delivery_handler(adapter: CentreAdapter) -> Handler:
    """POST a routed alert to its centre; a refusal is poison, an outage is retried."""

    async def handle(event: CloudEvent, model: BaseModel) -> None:
        if not isinstance(model, RoutedAlert):
            raise PermanentError("unexpected-type", f"{event.type} on delivery")
        try:
            await adapter.deliver(event)
        except PlatformRejected as exc:
            raise PermanentError(exc.reason, exc.detail) from exc
        log.info(
            "router.delivered",
            destination=adapter.destination.value,
            routed_to=model.decision.destination.value,
            incident_id=model.alert.incident_id,
            id=event.id,
        )

    return handle


class Router:
    """The classify consumer and the delivery consumers of one `linkgate router`."""

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        holder: RulesHolder,
        adapters: dict[Destination, CentreAdapter] | None = None,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.holder = holder
        if adapters is None:
            adapters = {}
            for dest in settings.direct_delivery:
                config = centre_config(settings, dest)
                if config is not None:
                    adapters[dest] = CentreAdapter(config)
        self.adapters = adapters
        self._publisher: Publisher | None = None
        self._runner: ConsumerRunner | None = None

    async def _declare_parked_queues(self) -> None:
        """Centres without a URL still get their durable queue: nothing is lost, and the
        backlog is visible until the URL is configured."""
        missing = [d for d in self.settings.direct_delivery if d not in self.adapters]
        if not missing:
            return
        assert self._publisher is not None
        channel = await self._publisher.connection.channel()
        try:
            for dest in missing:
                await declare_consumer_queue(
                    channel, self.settings, delivery_queue(dest), delivery_bindings(dest)
                )
                log.error("router.destination_not_configured", destination=dest.value,
                          queue=delivery_queue(dest), setting=_URL_FIELDS[dest].upper())
            if Destination.COMMAND_CENTRE in missing:
                await declare_consumer_queue(channel, self.settings, NOTICE_QUEUE, NOTICE_BINDINGS)
        finally:
            await channel.close()

    async def start(self) -> None:
        self._publisher = await Publisher.connect(self.settings)
        await self._declare_parked_queues()
        specs = [
            ConsumerSpec(delivery_queue(d), delivery_bindings(d), delivery_handler(a))
            for d, a in self.adapters.items()
        ]
        centre = self.adapters.get(Destination.COMMAND_CENTRE)
        if centre is not None:
            specs.append(ConsumerSpec(NOTICE_QUEUE, NOTICE_BINDINGS, notice_handler(centre)))
        # delivery queues first: once classification runs, every routed key has a queue
        specs.append(
            ConsumerSpec(
                CLASSIFY_QUEUE, ["alert.received.*"], classify_handler(self.holder, self._publisher)
            )
        )
        self._runner = ConsumerRunner(self.settings, self.redis, specs)
        await self._runner.start()
        log.info("router.started", rules=self.holder.engine.digest,
                 destinations=[d.value for d in self.adapters])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.stop()
        for adapter in self.adapters.values():
            await adapter.aclose()
        if self._publisher is not None:
            await self._publisher.close()

    async def run(self, reload_interval_s: float = 2.0) -> None:
        """Run until cancelled, watching the rules file; stop cleanly on the way out."""
        await self.start()
        watcher = asyncio.create_task(self.holder.watch(reload_interval_s))
        try:
            await asyncio.Event().wait()
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await asyncio.shield(self.stop())
