"""Reminders before a deadline: the liaisons who got an order are told time is running out.

`linkgate sla` publishes `order.sla.warning` shortly before an acknowledge / arrive /
report deadline; this sends one short SMS to each person the order reached (once per
order, milestone and person, whatever the bus redelivers).
"""

from __future__ import annotations

import structlog
from redis.asyncio import Redis

from adapters.sms.errors import FinalSendError
from contracts import CloudEvent, Order, SlaEvent
from gateway.channels.compose import local_time, reply_hint
from gateway.channels.dispatch import ORDER_DOC_TTL_S, SmsSender
from gateway.logging import mask_phone
from gateway.settings import Settings

log = structlog.get_logger(__name__)

MILESTONE_TEXT = {"acknowledge": "确认接收", "arrive": "到达现场", "report": "提交书面报告"}


def reminder_sms(order: Order, warning: SlaEvent) -> str:
    """`【应急联动·提醒】指令K7QF须于20:35前到达现场。…` (well within one 70-unit SMS)."""
    what = MILESTONE_TEXT[warning.milestone]
    return (
        f"【应急联动·提醒】指令{order.code}须于{local_time(warning.deadline)}前{what}。"
        f"{reply_hint(order.code)}"
    )


class Reminders:
    """Sends deadline reminders to the people an order was sent to."""

    def __init__(self, settings: Settings, redis: Redis, sms: SmsSender) -> None:
        self._settings = settings
        self._redis = redis
        self._sms = sms

    async def on_sla_warning(self, _: CloudEvent, warning: SlaEvent) -> None:
        raw = await self._redis.get(self._settings.key("chan", "orderdoc", warning.order_id))
        if raw is None:  # never sent by SMS (WeCom or call only): nobody to remind here
            log.info("reminder.no_sms_recipients", order=warning.order_id)
            return
        order = Order.model_validate_json(raw)
        tried = await self._redis.smembers(self._settings.key("chan", "tried", order.order_id))
        for member in sorted(tried):
            mobile = member.decode() if isinstance(member, bytes) else str(member)
            claim = self._settings.key(
                "chan", "reminded", order.order_id, warning.milestone, mobile
            )
            if not await self._redis.set(claim, "1", nx=True, ex=ORDER_DOC_TTL_S):
                continue  # this person was reminded already
            try:
                await self._sms.send(mobile, reminder_sms(order, warning))
            except FinalSendError as exc:
                log.warning("reminder.refused", order=order.order_id, code=exc.code)
            except Exception:
                await self._redis.delete(claim)  # retryable: the bus tries again
                raise
            log.info("reminder.sent", order=order.order_id, milestone=warning.milestone,
                     to=mask_phone(mobile))
