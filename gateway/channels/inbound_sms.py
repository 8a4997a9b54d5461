"""An inbound SMS: a citizen's alarm, or a liaison's reply to an order.

Liaison if the sender is in the unit directory, has open orders, or the text carries
an open order's code. A known liaison with no open order whose text is no reply is
reporting something: an `Alert` with `reporter="liaison:<unit>"`.

A liaison's reply that parses becomes an `OrderFeedback`; one that does not gets a
polite request to answer again, is kept in `chan:sms:unparsed` (a Redis list the
centre's board reads) and is also published as an `Alert` with
`reporter="liaison:<unit>"`, so whatever the liaison wrote reaches a human. An unknown
sender whose text merely looks like it has a code but no reply word is a citizen: when
in doubt, it is an alarm.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from redis.asyncio import Redis

from contracts.alert import Alert, Media
from contracts.common import Channel, new_id, normalise_e164, utcnow
from contracts.directory import Liaison, Unit
from contracts.envelope import CloudEvent, make_event
from contracts.order import OrderFeedback
from gateway.channels.order_index import open_orders_for, order_by_code
from gateway.channels.replies import KIND_LABELS, ParsedReply, candidate_codes, parse_reply
from gateway.directory.store import DirectoryStore
from gateway.settings import Settings

SOURCE = "/linkgate/webhooks/twilio/sms"
_DIALLED = re.compile(r"^\+?[0-9*#]{2,20}$")
UNPARSED_KEEP = 10_000

CITIZEN_REPLY = "【应急联动】您的短信报警已收到，请保持手机畅通。情况危急请直接拨打110。"
ASK_AGAIN = "未能识别您的回复。请回复数字:1收到 2到达 3完成 4增援，或“移交 单位名称”{codes}。"
ASK_CODE = "您有多条待办指令({codes})，请在回复中带上指令代码，如“2 {first}”。"
NO_ORDER = "未找到您待处理的指令，请核对指令代码后重新回复。"
ASK_UNIT = "请回复“移交 指令代码 接手单位名称”，如“移交 {code} 市消防救援支队”。"
CONFIRM = "已收到:指令{code} {label}。"


@dataclass
class SmsOutcome:
    """What to publish and what to answer (TwiML message text, or none)."""

    kind: str
    events: list[CloudEvent] = field(default_factory=list)
    reply: str | None = None


def _e164(raw: str) -> str | None:
    try:
        return normalise_e164(raw)
    except ValueError:
        return None


def _media(form: Mapping[str, str]) -> list[Media]:
    out = []
    raw_count = form.get("NumMedia", "0")
    count = int(raw_count) if raw_count.isdigit() else 0
    for i in range(min(count, 20)):
        url = form.get(f"MediaUrl{i}")
        if not url:
            continue
        mime = form.get(f"MediaContentType{i}") or None
        major = (mime or "image/").split("/", 1)[0]
        kind = major if major in ("image", "video") else "voice" if major == "audio" else "file"
        out.append(Media(kind=kind, ref=url[:1000], mime_type=mime))
    return out


def citizen_alert(form: Mapping[str, str], reporter: str | None = None) -> Alert:
    caller = _e164(form.get("From", ""))
    called = form.get("To", "").strip()
    return Alert(
        channel=Channel.SMS,
        received_at=utcnow(),
        caller=caller,
        called=called if _DIALLED.match(called) else None,
        text=form.get("Body", "")[:4000],
        source_ref=form.get("MessageSid"),
        reporter=reporter or (None if caller else form.get("From", "")[:128] or None),
        media=_media(form),
    )


async def handle_sms(
    form: Mapping[str, str], redis: Redis, settings: Settings, directory: DirectoryStore
) -> SmsOutcome:
    """Decide citizen vs liaison and build the events and the answer (publishes nothing)."""
    sid = form["MessageSid"]
    body = form.get("Body", "")
    mobile = _e164(form.get("From", ""))
    found = await directory.find_by_mobile(mobile) if mobile else None
    open_orders = await open_orders_for(redis, settings, mobile) if mobile else []
    by_code = {code: order_id for order_id, code in open_orders}
    for code in candidate_codes(body):
        if code not in by_code and (order_id := await order_by_code(redis, settings, code)):
            by_code[code] = order_id
    if found is None and not by_code:
        return _alert_outcome("citizen", citizen_alert(form), sid, CITIZEN_REPLY)
    parsed = parse_reply(body, set(by_code))
    if parsed.kind is None and found is None:
        return _alert_outcome("citizen", citizen_alert(form), sid, CITIZEN_REPLY)
    unit, liaison = found if found else (None, None)
    if parsed.kind is None and not by_code:
        # a liaison with no open order writing something else: an alarm from a known person
        alert = citizen_alert(form, reporter=f"liaison:{unit.id}" if unit else None)
        return _alert_outcome("alert-from-liaison", alert, sid, CITIZEN_REPLY)
    if parsed.kind is None:
        codes = "，并带上指令代码" if len(open_orders) > 1 else ""
        return await _unparsed(form, redis, settings, unit, ASK_AGAIN.format(codes=codes))
    if parsed.codes:
        code = parsed.codes[0]
    elif len(open_orders) == 1:
        code = open_orders[0][1]
    elif not open_orders:
        return await _unparsed(form, redis, settings, unit, NO_ORDER)
    else:
        listed = "、".join(c for _, c in open_orders[:5])
        reply = ASK_CODE.format(codes=listed, first=open_orders[0][1])
        return await _unparsed(form, redis, settings, unit, reply)
    handed_to = None
    if parsed.kind == "handed_over":
        handed_to = await _find_unit(directory, parsed.rest, exclude=unit.id if unit else None)
        if handed_to is None:
            return await _unparsed(form, redis, settings, unit, ASK_UNIT.format(code=code))
    feedback = _feedback(form, parsed, code, by_code[code], unit, liaison, mobile, handed_to)
    event = make_event(feedback, source=SOURCE, event_id=f"twilio-sms-{sid}")
    label = KIND_LABELS[parsed.kind]
    return SmsOutcome("feedback", [event], CONFIRM.format(code=code, label=label))


def _feedback(
    form: Mapping[str, str],
    parsed: ParsedReply,
    code: str,
    order_id: str,
    unit: Unit | None,
    liaison: Liaison | None,
    mobile: str | None,
    handed_to: str | None,
) -> OrderFeedback:
    by = liaison.name if liaison else (f"{unit.id}:duty" if unit else mobile or "unknown")
    return OrderFeedback(
        feedback_id=new_id(),
        order_id=order_id,
        order_code=code,
        kind=parsed.kind,
        by=by,
        via="sms",
        at=utcnow(),
        note=(parsed.rest or None) if parsed.kind != "handed_over" else None,
        handed_to_unit=handed_to,
        raw_text=form.get("Body", "")[:1600],
    )


def _alert_outcome(kind: str, alert: Alert, sid: str, reply: str) -> SmsOutcome:
    event = make_event(
        alert, source=SOURCE, subject=alert.incident_id, event_id=f"twilio-sms-{sid}"
    )
    return SmsOutcome(kind, [event], reply)


async def _unparsed(
    form: Mapping[str, str], redis: Redis, settings: Settings, unit: Unit | None, reply: str
) -> SmsOutcome:
    """Keep the text for the centre and publish it as an alert from a liaison."""
    entry = {
        "sid": form.get("MessageSid"),
        "from": form.get("From"),
        "unit_id": unit.id if unit else None,
        "text": form.get("Body", ""),
        "at": utcnow().isoformat(),
    }
    key = settings.key("chan", "sms", "unparsed")
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lpush(key, json.dumps(entry, ensure_ascii=False))
        pipe.ltrim(key, 0, UNPARSED_KEEP - 1)
        await pipe.execute()
    reporter = f"liaison:{unit.id}" if unit else "liaison"
    alert = citizen_alert(form, reporter=reporter)
    return _alert_outcome("unparsed", alert, form["MessageSid"], reply)


async def _find_unit(directory: DirectoryStore, text: str, exclude: str | None) -> str | None:
    """The unit a hand-over names: by id or by (the longest matching) name."""
    words = text.replace(" ", "")
    if not words:
        return None
    best: tuple[int, str] | None = None
    for unit in await directory.all():
        if unit.id == exclude:
            continue
        if (
            unit.id.upper() in text.upper().split()
            or unit.name in words
            or (len(words) >= 2 and words in unit.name)
        ):
            score = len(unit.name)
            if best is None or score > best[0]:
                best = (score, unit.id)
    return best[1] if best else None
