"""Shared field types: ids, phone numbers, enums, timestamps."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from ulid import ULID


class StrictModel(BaseModel):
    """Base of every contract model: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


def new_id() -> str:
    """A new sortable id (ULID, 26 Crockford base32 chars; sorts by creation time)."""
    return str(ULID())


def utcnow() -> datetime:
    """Now, timezone-aware in UTC (the wire is always UTC)."""
    return datetime.now(UTC)


class Channel(StrEnum):
    """How an alert reached the gateway (the `<detail>` of `alert.received.<detail>`)."""

    CALL = "call"
    SMS = "sms"
    WECHAT = "wechat"
    API = "api"


class Destination(StrEnum):
    """Routing destinations, ids fixed by interface contract v1."""

    COMMAND_CENTRE = "command-centre"
    HOTLINE_12345 = "12345"
    MARITIME_SAR = "maritime-sar"
    OCEAN_FISHERY = "ocean-fishery"


class EventStatus(StrEnum):
    """CloudEvents extension `status`: drills (演练) never count as real incidents."""

    ACTUAL = "actual"
    EXERCISE = "exercise"
    TEST = "test"


class Script(StrEnum):
    """Chinese script an alert's text was written in (detected before normalisation)."""

    SIMPLIFIED = "hans"
    TRADITIONAL = "hant"
    MIXED = "mixed"
    OTHER = "other"


_DIGITS = re.compile(r"[\s\-().]")
_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_CN_LANDLINE = re.compile(r"^0[1-9]\d{8,10}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def normalise_e164(raw: str, default_country: str = "86") -> str:
    """Normalise a phone number to E.164, assuming China (+86) for national forms.

    Accepts `13800138000`, `+86 138-0013-8000`, `008613800138000`, `0580-2021234`
    (landline, trunk prefix 0 dropped). Raises ValueError for anything else, so a
    garbled number is refused rather than stored half-right.
    """
    s = _DIGITS.sub("", raw.strip())
    if s.startswith("00"):
        s = "+" + s[2:]
    if s.startswith("+"):
        if s.startswith("+86") and s[3:4] == "0":
            s = "+86" + s[4:]
        if not _E164.match(s):
            raise ValueError(f"not an E.164 number: {raw!r}")
        return s
    if s.startswith("86") and _CN_MOBILE.match(s[2:]):
        return "+" + s
    if _CN_MOBILE.match(s):
        return f"+{default_country}{s}"
    if _CN_LANDLINE.match(s):
        return f"+{default_country}{s[1:]}"
    raise ValueError(f"not a phone number this gateway understands: {raw!r}")


def _validate_e164(value: str) -> str:
    if not _E164.match(value):
        # accept national forms on input, store E.164
        return normalise_e164(value)
    return value


E164 = Annotated[str, AfterValidator(_validate_e164), Field(examples=["+8613800138000"])]
"""A phone number, normalised to E.164 on validation."""

DialledNumber = Annotated[str, Field(pattern=r"^\+?[0-9*#]{2,20}$", examples=["110", "12345"])]
"""A number as dialled (short service numbers like 110 are not E.164)."""

UtcTime = AwareDatetime
"""Timestamps must carry a timezone; naive datetimes are refused."""

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/+\-]+$")]
"""An id from us or a peer (ULID, Asterisk Uniqueid, Twilio SID, ticket number)."""
