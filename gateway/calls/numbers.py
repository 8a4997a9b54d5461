"""Phone numbers for the PBX: dial strings, masking for logs, who to try in what order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gateway.settings import Settings


def mask_phone(number: str) -> str:
    """`+8613800138000` → `+86138****8000`, `+8657812345001` → `+86578****5001` (for logs)."""
    if len(number) >= 11:
        return f"{number[:6]}****{number[-4:]}"
    return "****" + number[-2:] if number else number


def national(e164: str) -> str:
    """The national form a Chinese trunk expects: mobiles as is, landlines with trunk 0."""
    if e164.startswith("+86"):
        rest = e164[3:]
        return rest if rest.startswith("1") else "0" + rest
    return "00" + e164.lstrip("+")


def dial_string(e164: str, settings: Settings) -> str:
    """The Originate `Channel` for a number: an explicit override, else the trunk template."""
    override = settings.dial_overrides.get(e164)
    if override:
        return override
    return settings.dial_template.format(e164=e164, national=national(e164))


def dial_order(
    duty_phones: Sequence[str], liaison_mobiles: Iterable[str], first: str | None = None
) -> list[str]:
    """Numbers to try: the requested one, the duty phones, then on-duty liaisons' mobiles.

    Duplicates are dropped so that no phone rings twice for one request.
    """
    order: list[str] = []
    for number in ([first] if first else []) + list(duty_phones) + list(liaison_mobiles):
        if number not in order:
            order.append(number)
    return order


def line_kind(duty_phones: Sequence[str], number: str) -> str:
    """Which of a unit's lines a number is, for evidence: `duty` room or `liaison` mobile."""
    return "duty" if number in duty_phones else "liaison"
