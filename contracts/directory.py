"""The unit directory: linkage units, their tiers, duty phones and liaisons."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import Field, model_validator

from contracts.common import E164, Identifier, StrictModel

Tier = Literal[1, 2, 3]
Area = Literal["urban", "rural"]


class DutyWindow(StrictModel):
    """A weekly on-duty window (weekday 1=Monday … 7=Sunday, local time Asia/Shanghai)."""

    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    start: time = time(0, 0)
    end: time = time(23, 59, 59)

    @model_validator(mode="after")
    def _check(self) -> DutyWindow:
        if not self.weekdays or any(d < 1 or d > 7 for d in self.weekdays):
            raise ValueError("weekdays must be 1..7")
        return self


class Liaison(StrictModel):
    """A unit's liaison (联络员): who receives orders by SMS and answers them."""

    name: str = Field(min_length=1, max_length=64)
    mobile: E164
    wecom_id: str | None = Field(None, max_length=64)
    on_duty: list[DutyWindow] = Field(default_factory=lambda: [DutyWindow()])


class Unit(StrictModel):
    """A linkage unit (应急联动单位)."""

    id: Identifier
    name: str = Field(min_length=1, max_length=128)
    tier: Tier
    kind: Literal["police", "unit"] = "unit"
    jurisdiction: str = Field(min_length=1, max_length=64)
    area: Area = "urban"
    duty_phones: list[E164] = Field(default_factory=list, max_length=10)
    liaisons: list[Liaison] = Field(default_factory=list, max_length=20)
    categories: list[str] = Field(default_factory=list)
    wecom_robot: str | None = Field(None, max_length=64, description="name of a WeCom robot key")
    working_hours: DutyWindow | None = Field(
        None, description="tier 3 units take orders only in these hours"
    )

    @model_validator(mode="after")
    def _reachable(self) -> Unit:
        if not self.duty_phones and not self.liaisons:
            raise ValueError(f"unit {self.id}: needs a duty phone or a liaison to be reachable")
        if self.tier == 1 and not self.duty_phones:
            raise ValueError(f"unit {self.id}: tier 1 units keep a 24h duty room phone")
        return self


class UnitDirectory(StrictModel):
    """The whole directory file (`LINKGATE_DIRECTORY_FILE`)."""

    version: int = 1
    units: list[Unit]

    @model_validator(mode="after")
    def _unique_ids(self) -> UnitDirectory:
        seen: set[str] = set()
        for unit in self.units:
            if unit.id in seen:
                raise ValueError(f"duplicate unit id {unit.id}")
            seen.add(unit.id)
        return self
