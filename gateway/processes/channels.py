"""`linkgate channels`: send orders by SMS and WeCom, and fall back on failed deliveries.

Queues: `channels.orders` (order.issued), `channels.delivery-failures`
(order.delivery.failed, order.delivery.undelivered) and `channels.reminders`
(order.sla.warning: the liaisons are reminded before a deadline).
"""

from __future__ import annotations

from adapters.sms.sender import TwilioSender
from adapters.wecom.robot import WeComRobot
from bus.consumer import ConsumerRunner, ConsumerSpec
from bus.publisher import Publisher
from gateway.channels.dispatch import OrderDispatcher
from gateway.channels.reminders import Reminders
from gateway.directory.store import DirectoryStore
from gateway.redis_client import connect_redis
from gateway.settings import Settings

ORDERS_QUEUE = "channels.orders"
FAILURES_QUEUE = "channels.delivery-failures"
REMINDERS_QUEUE = "channels.reminders"


def consumer_specs(
    dispatcher: OrderDispatcher, reminders: Reminders | None = None
) -> list[ConsumerSpec]:
    extra = (
        [ConsumerSpec(REMINDERS_QUEUE, ["order.sla.warning"], reminders.on_sla_warning)]  # type: ignore[arg-type]
        if reminders is not None
        else []
    )
    return [
        *extra,
        ConsumerSpec(ORDERS_QUEUE, ["order.issued"], dispatcher.on_order_issued),  # type: ignore[arg-type]
        ConsumerSpec(
            FAILURES_QUEUE,
            ["order.delivery.failed", "order.delivery.undelivered"],
            dispatcher.on_delivery_failed,  # type: ignore[arg-type]
        ),
    ]


async def run(settings: Settings) -> None:
    if not (
        settings.twilio_account_sid
        and settings.twilio_auth_token.get_secret_value()
        and settings.twilio_from_number
    ):
        raise RuntimeError(
            "linkgate channels needs LINKGATE_TWILIO_ACCOUNT_SID, _AUTH_TOKEN and _FROM_NUMBER"
        )
    redis = connect_redis(settings)
    publisher = await Publisher.connect(settings)
    sms = TwilioSender(
        settings.twilio_account_sid,
        settings.twilio_auth_token.get_secret_value(),
        settings.twilio_from_number,
        api_base=str(settings.twilio_api_base),
    )
    wecom = WeComRobot(str(settings.wecom_api_base))
    dispatcher = OrderDispatcher(
        settings, redis, DirectoryStore(redis, settings), sms, wecom, publisher.publish
    )
    reminders = Reminders(settings, redis, sms)
    runner = ConsumerRunner(settings, redis, consumer_specs(dispatcher, reminders))
    try:
        await runner.run()
    finally:
        await sms.close()
        await wecom.close()
        await publisher.close()
        await redis.aclose()
