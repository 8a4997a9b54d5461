"""Order dispatch: `order.issued` → SMS to the on-duty liaisons and a WeCom group post;
`order.delivery.{failed,undelivered}` → the next contact, and the centre is told.

Never twice to the same person: a claim per (order, attempt, mobile) is taken before sending
(`sending:<mid>`) and kept (`sent:<mid>` / `failed:<code>`), so a bus redelivery or a
retry after a partial failure sends only to those not yet reached. A retryable error
releases its claim and is raised after the others were sent, so the bus retries with
backoff; a final error marks the contact failed and publishes `order.delivery.failed`,
whose consumer (here too) moves on to the next contact.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog
from redis.asyncio import Redis

from adapters.sms.errors import FinalSendError, RetryableSendError
from adapters.sms.sender import SentMessage
from adapters.wecom.robot import FinalWeComError, RetryableWeComError
from bus.errors import PermanentError, UnroutableError
from contracts.common import new_id, utcnow
from contracts.directory import Unit
from contracts.envelope import CloudEvent, make_event
from contracts.order import DeliveryStatus, Order, OrderDelivery
from gateway.channels import metrics
from gateway.channels.compose import notice_markdown, order_markdown, order_sms
from gateway.channels.contacts import Contact, fallback_order, first_recipients
from gateway.channels.delivery import DeliveryStore
from gateway.channels.order_index import index_order
from gateway.channels.redisutil import as_str
from gateway.directory.store import DirectoryStore
from gateway.logging import mask_phone
from gateway.ratelimit import TokenBucket
from gateway.settings import Settings

log = structlog.get_logger(__name__)

SOURCE = "/linkgate/channels"
CLAIM_SENDING_TTL_S = 300
ORDER_DOC_TTL_S = 30 * 24 * 3600

Publish = Callable[[CloudEvent], Awaitable[None]]


class SmsSender(Protocol):
    async def send(self, to: str, body: str, status_callback: str | None = None) -> SentMessage: ...


class MarkdownPoster(Protocol):
    async def send_markdown(self, key: str, content: str) -> None: ...


class RateLimited(RetryableWeComError):
    """Our own bucket for the robot is empty: retry after the bus's delay."""


class OrderDispatcher:
    """Sends orders by SMS and WeCom; all state in Redis, so any instance may run it."""

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        directory: DirectoryStore,
        sms: SmsSender,
        wecom: MarkdownPoster,
        publish: Publish,
    ) -> None:
        self._settings = settings
        self._redis = redis
        self._directory = directory
        self._sms = sms
        self._wecom = wecom
        self._publish = publish
        self.deliveries = DeliveryStore(redis, settings)
        self._bucket = TokenBucket(redis, settings.key("chan", "wecom", "bucket"))

    # --- keys
    def _claim_key(self, order: Order, to: str) -> str:
        """Per (order, attempt, recipient): a redelivery never re-sends, while a deliberate
        re-dispatch (a higher `attempt`) may reach the same person again."""
        return self._settings.key("chan", "sent", order.order_id, str(order.attempt), to)

    def _tried_key(self, order_id: str) -> str:
        return self._settings.key("chan", "tried", order_id)

    def _doc_key(self, order_id: str) -> str:
        return self._settings.key("chan", "orderdoc", order_id)

    def status_callback(self, mid: str) -> str:
        base = str(self._settings.public_base_url).rstrip("/")
        return f"{base}/webhooks/twilio/status?mid={mid}"

    # --- order.issued
    async def on_order_issued(self, _: CloudEvent, order: Order) -> None:
        unit = await self._directory.get(order.unit_id)
        if unit is None:
            raise PermanentError("unknown-unit", order.unit_id)
        await self._redis.set(
            self._doc_key(order.order_id), order.model_dump_json(), ex=ORDER_DOC_TTL_S
        )
        errors: list[Exception] = []
        if "sms" in order.via:
            contacts = first_recipients(unit, utcnow(), order.recipients)
            if not contacts:
                await self._inform(order, unit, "exhausted", detail="no SMS contact")
            for contact in contacts:
                try:
                    await self.send_sms(order, unit, contact)
                except RetryableSendError as exc:
                    errors.append(exc)
        if "wecom" in order.via and unit.wecom_robot:
            try:
                await self.post_wecom(order, unit, order_markdown(order, unit.name))
            except RetryableWeComError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    async def send_sms(self, order: Order, unit: Unit, contact: Contact) -> None:
        """Send the order to one person unless it already was (claim per order+mobile)."""
        key = self._claim_key(order, contact.mobile)
        mid = new_id()
        if not await self._redis.set(key, f"sending:{mid}", nx=True, ex=CLAIM_SENDING_TTL_S):
            current = as_str(await self._redis.get(key))
            if current.startswith("sending:"):
                raise RetryableSendError("send in progress elsewhere")
            log.info("dispatch.already_sent", order=order.order_id, to=contact.mobile)
            return
        await self._redis.sadd(self._tried_key(order.order_id), contact.mobile)
        await self._redis.expire(self._tried_key(order.order_id), ORDER_DOC_TTL_S)
        await index_order(self._redis, self._settings, order, [contact.mobile])
        await self.deliveries.create(
            mid,
            order_id=order.order_id,
            code=order.code,
            unit_id=order.unit_id,
            incident_id=order.incident_id,
            to=contact.mobile,
            name=contact.name,
            channel="sms",
        )
        try:
            sent = await self._sms.send(
                contact.mobile, order_sms(order), status_callback=self.status_callback(mid)
            )
        except RetryableSendError:
            metrics.OUTBOUND.labels("sms", "retry").inc()
            await self._redis.delete(key)
            await self._redis.srem(self._tried_key(order.order_id), contact.mobile)
            raise
        except FinalSendError as exc:
            metrics.OUTBOUND.labels("sms", "failed").inc()
            await self._redis.set(key, f"failed:{exc.code}", ex=ORDER_DOC_TTL_S)
            await self.deliveries.apply(mid, "failed", error_code=exc.code, source="send")
            log.warning(
                "dispatch.sms_refused", order=order.order_id, to=contact.mobile, code=exc.code
            )
            await self._inform(
                order,
                unit,
                "failed",
                to=contact.mobile,
                error_code=exc.code,
                detail=exc.reason,
                delivery_id=mid,
            )
            return
        metrics.OUTBOUND.labels("sms", "sent").inc()
        await self._redis.set(key, f"sent:{mid}", ex=ORDER_DOC_TTL_S)
        await self.deliveries.set_field(mid, "sid", sent.sid)
        await self.deliveries.apply(mid, sent.status, sid=sent.sid, source="send")
        log.info("dispatch.sms_sent", order=order.order_id, to=mask_phone(contact.mobile), mid=mid)

    async def post_wecom(self, order: Order, unit: Unit, content: str, tag: str = "order") -> None:
        """Post to the unit's group robot once per (order, tag), within the rate limit."""
        robot = unit.wecom_robot
        secret = self._settings.wecom_robot_keys.get(robot or "")
        if robot is None or secret is None:
            log.warning("dispatch.wecom_robot_unknown", unit=unit.id, robot=robot)
            return
        key = self._claim_key(order, f"wecom-{tag}")
        if not await self._redis.set(key, "sending", nx=True, ex=CLAIM_SENDING_TTL_S):
            current = as_str(await self._redis.get(key))
            if current == "sending":
                raise RetryableWeComError("post in progress elsewhere")
            return
        try:
            taken = await self._bucket.take(robot, order.emergency)
            if not taken.ok:
                metrics.OUTBOUND.labels("wecom", "rate_limited").inc()
                raise RateLimited(f"robot {robot} rate limited, wait {taken.wait_s:.1f}s")
            await self._wecom.send_markdown(secret.get_secret_value(), content)
        except RetryableWeComError:
            metrics.OUTBOUND.labels("wecom", "retry").inc()
            await self._redis.delete(key)
            raise
        except FinalWeComError as exc:
            metrics.OUTBOUND.labels("wecom", "failed").inc()
            await self._redis.set(key, f"failed:{exc.code}", ex=ORDER_DOC_TTL_S)
            await self._inform(
                order,
                unit,
                "failed",
                to=robot,
                error_code=exc.code,
                detail=exc.reason,
                channel="wecom",
            )
            return
        metrics.OUTBOUND.labels("wecom", "sent").inc()
        await self._redis.set(key, "sent", ex=ORDER_DOC_TTL_S)

    # --- order.delivery.{failed,undelivered}
    async def on_delivery_failed(self, _: CloudEvent, report: OrderDelivery) -> None:
        """Try the unit's next contact; tell the centre who, or that nobody is left."""
        if report.channel != "sms":
            return
        raw = await self._redis.get(self._doc_key(report.order_id))
        if raw is None:
            raise PermanentError("order-unknown", report.order_id)
        order = Order.model_validate_json(raw)
        unit = await self._directory.get(order.unit_id)
        if unit is None:
            raise PermanentError("unknown-unit", order.unit_id)
        tried = {as_str(m) for m in await self._redis.smembers(self._tried_key(order.order_id))}
        nxt = next((c for c in fallback_order(unit, utcnow()) if c.mobile not in tried), None)
        if nxt is None:
            await self._inform(
                order,
                unit,
                "exhausted",
                to=report.to,
                detail="no further SMS contact; call the duty room",
            )
            with contextlib.suppress(RetryableWeComError):
                await self.post_wecom(
                    order,
                    unit,
                    notice_markdown(
                        order.code, "短信指令未能送达任何联络员，请值班室立即联系指挥中心"
                    ),
                    "exhausted",
                )
            return
        await self.send_sms(order, unit, nxt)
        await self._inform(order, unit, "fallback", to=report.to, next_to=nxt.mobile)
        with contextlib.suppress(RetryableWeComError):
            await self.post_wecom(
                order,
                unit,
                notice_markdown(order.code, f"短信未送达，已改发{nxt.name}"),
                f"fallback-{nxt.mobile}",
            )

    async def _inform(
        self,
        order: Order,
        unit: Unit,
        status: DeliveryStatus,
        *,
        to: str | None = None,
        next_to: str | None = None,
        error_code: str | None = None,
        detail: str | None = None,
        delivery_id: str | None = None,
        channel: str = "sms",
    ) -> None:
        report = OrderDelivery(
            delivery_id=delivery_id or new_id(),
            order_id=order.order_id,
            unit_id=unit.id,
            incident_id=order.incident_id,
            channel="wecom" if channel == "wecom" else "sms",
            status=status,
            to=to,
            next_to=next_to,
            error_code=error_code,
            detail=detail,
            at=utcnow(),
        )
        event = make_event(report, source=SOURCE, subject=order.incident_id)
        try:
            await self._publish(event)
        except UnroutableError:
            # `failed` is always routable (our own fallback queue binds it); `fallback` and
            # `exhausted` are for the centre: without a bound queue we log loudly
            log.error("dispatch.delivery_report_unroutable", status=status, order=order.order_id)
            if status == "failed":
                raise
