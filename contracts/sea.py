"""Hand-over of sea incidents to the maritime SAR or ocean & fishery centre."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.alert import Alert
from contracts.common import E164, Identifier, StrictModel, UtcTime

SeaCentre = Literal["maritime-sar", "ocean-fishery"]
VesselKind = Literal["fishing", "merchant", "passenger", "leisure", "fish-farm", "unknown"]
HandoverStatus = Literal["handed_over", "accepted", "responding", "resolved", "reported_direct"]


class SeaHandover(StrictModel):
    """What a sea centre needs to take command, and its status coming back."""

    handover_id: Identifier
    incident_id: Identifier
    centre: SeaCentre
    status: HandoverStatus
    alert: Alert | None = None
    vessel_name: str | None = Field(None, max_length=128)
    vessel_kind: VesselKind = "unknown"
    persons_in_water: int | None = Field(None, ge=0)
    note: str | None = Field(None, max_length=4000)
    callback_number: E164 | None = Field(None, description="whom the centre calls back")
    reported_by: str | None = Field(None, max_length=128, description="who at the centre")
    updated_at: UtcTime
