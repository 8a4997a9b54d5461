"""Deadlines of an order, from the unit's tier, kind, area and jurisdiction's profile.

The numbers come from the seeds (DESIGN.md "Domain rules"): Lishui 丽应急〔2020〕62号
item 9 (police 10 min, tier 1 20 min, others 30 min), Zhoushan 舟政办发〔2016〕94号
(tier 1 30 min urban, tier 2 60 min, written result within 24 h) and Anhua (rural 60 min,
written result within 12 h). "Rural: as fast as possible" has no number in Zhoushan's
text; the profiles use Anhua's 60 minutes. Acknowledgement ("respond at once") has no
number in any seed: 5 minutes by default, configurable like every other field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from contracts.directory import Unit
from contracts.order import Deadlines
from gateway.settings import Settings


@dataclass(frozen=True)
class DeadlineProfile:
    """Minutes after the order (report: hours) for one jurisdiction's rules."""

    name: str
    acknowledge: float = 5
    police: float = 10
    tier1_urban: float = 20
    tier1_rural: float = 60
    tier2_urban: float = 30
    tier2_rural: float = 60
    tier3_onsite: float = 30
    report_hours: float = 24


PROFILES: dict[str, DeadlineProfile] = {
    "lishui": DeadlineProfile("lishui"),
    "zhoushan": DeadlineProfile("zhoushan", tier1_urban=30, tier2_urban=60),
    "anhua": DeadlineProfile("anhua", tier1_urban=30, tier2_urban=60, report_hours=12),
}


class UnknownProfileError(ValueError):
    """A jurisdiction mapped to a profile that does not exist."""


def profile_for(settings: Settings, jurisdiction: str | None) -> DeadlineProfile:
    """The jurisdiction's profile: the settings map, else the profile named like the
    jurisdiction, else the default; with the configured overrides applied."""
    j = jurisdiction or ""
    name = settings.deadline_jurisdictions.get(j) or (j if j in PROFILES else "")
    name = name or settings.deadline_profile
    base = PROFILES.get(name, DeadlineProfile(name))
    if name not in PROFILES and name not in settings.deadline_overrides:
        raise UnknownProfileError(f"no deadline profile {name!r}")
    overrides = settings.deadline_overrides.get(name, {})
    allowed = {f.name for f in fields(DeadlineProfile)} - {"name"}
    bad = set(overrides) - allowed
    if bad:
        raise UnknownProfileError(f"profile {name!r}: unknown fields {sorted(bad)}")
    merged: dict[str, Any] = {**asdict(base), **overrides}
    return DeadlineProfile(**merged)


def arrival_minutes(profile: DeadlineProfile, unit: Unit, on_site: bool) -> float | None:
    """Minutes to arrive on site, or None when the order needs no arrival (tier 3 desk work)."""
    if unit.kind == "police":
        return profile.police
    rural = unit.area == "rural"
    if unit.tier == 1:
        return profile.tier1_rural if rural else profile.tier1_urban
    if unit.tier == 2:
        return profile.tier2_rural if rural else profile.tier2_urban
    return profile.tier3_onsite if on_site else None


def compute_deadlines(
    settings: Settings, unit: Unit, issued_at: datetime, *, on_site: bool = True
) -> Deadlines:
    """Deadlines for an order issued at `issued_at` to `unit`."""
    profile = profile_for(settings, unit.jurisdiction)
    arrive = arrival_minutes(profile, unit, on_site)
    return Deadlines(
        acknowledge_by=issued_at + timedelta(minutes=profile.acknowledge),
        arrive_by=issued_at + timedelta(minutes=arrive) if arrive is not None else None,
        report_by=issued_at + timedelta(hours=profile.report_hours),
    )
