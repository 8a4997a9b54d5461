"""A WeChat official-account message → an Alert (text, location, image/voice/video, link).

Events (subscribe, menu clicks, periodic location reports) are not alarms: they are
claimed like messages (so a retry is answered the same) but publish nothing.
"""

from __future__ import annotations

from adapters.wechat.message import WeChatMessage
from contracts.alert import Alert, Location, Media
from contracts.common import Channel, utcnow
from contracts.envelope import CloudEvent, make_event

SOURCE = "/linkgate/webhooks/wechat"


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def alert_from_wechat(msg: WeChatMessage) -> Alert | None:
    """The alert a message carries, or None for events and unknown types."""
    kind = msg.msg_type
    text = ""
    location = None
    media: list[Media] = []
    if kind == "text":
        text = msg.get("Content") or ""
    elif kind == "location":
        lat, lon = _float(msg.get("Location_X")), _float(msg.get("Location_Y"))
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            lat = lon = None
        label = msg.get("Label")
        location = Location(address=label[:500] if label else None, lat=lat, lon=lon)
        text = label or ""
    elif kind in ("image", "voice", "video", "shortvideo"):
        media_id = msg.get("MediaId")
        if media_id:
            mkind = "video" if kind == "shortvideo" else kind
            mime = f"audio/{msg.get('Format')}" if kind == "voice" and msg.get("Format") else None
            media.append(Media(kind=mkind, ref=media_id[:1000], mime_type=mime))
        if kind == "image" and msg.get("PicUrl"):
            media.append(Media(kind="image", ref=(msg.get("PicUrl") or "")[:1000]))
        text = msg.get("Recognition") or ""  # voice recognition, when enabled
    elif kind == "link":
        text = " ".join(p for p in (msg.get("Title"), msg.get("Description"), msg.get("Url")) if p)
    else:
        return None
    return Alert(
        channel=Channel.WECHAT,
        received_at=msg.create_time or utcnow(),
        text=text[:4000],
        location=location,
        source_ref=(msg.get("MsgId") or "")[:128] or None,
        reporter=(msg.from_user or "")[:128] or None,
        media=media,
    )


def alert_event(alert: Alert, dedup_key: str) -> CloudEvent:
    """The envelope, its id derived from the peer's id (a re-publish is absorbed)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_.:" else "_" for ch in dedup_key)[:100]
    return make_event(alert, source=SOURCE, subject=alert.incident_id, event_id=f"wechat-{safe}")
