"""Whom an order goes to, and who is next when a message does not get through."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from contracts.directory import Unit
from gateway.directory.schedule import on_duty_liaisons

_CN_MOBILE = re.compile(r"^\+861[3-9]\d{9}$")


@dataclass(frozen=True)
class Contact:
    mobile: str
    name: str


def is_mobile(number: str) -> bool:
    """Only mainland mobiles take SMS; a duty room landline does not."""
    return bool(_CN_MOBILE.match(number))


def fallback_order(unit: Unit, at: datetime) -> list[Contact]:
    """Everyone SMS can reach, in the order to try: on-duty liaisons, the other
    liaisons, then the duty room's mobile phones."""
    on = on_duty_liaisons(unit, at)
    rest = [li for li in unit.liaisons if li not in on]
    out = [Contact(li.mobile, li.name) for li in [*on, *rest]]
    out += [Contact(p, "值班室") for p in unit.duty_phones if is_mobile(p)]
    unique: dict[str, Contact] = {}
    for contact in out:
        unique.setdefault(contact.mobile, contact)
    return list(unique.values())


def first_recipients(unit: Unit, at: datetime, recipients: list[str] | None) -> list[Contact]:
    """Explicit recipients (a re-dispatch), else the on-duty liaisons, else the first
    reachable contact."""
    everyone = fallback_order(unit, at)
    if recipients:
        names = {c.mobile: c.name for c in everyone}
        return [Contact(m, names.get(m, "联络员")) for m in recipients]
    on = [Contact(li.mobile, li.name) for li in on_duty_liaisons(unit, at)]
    return on or everyone[:1]
