"""Alert: a report from a citizen or platform, whatever channel it came by."""

from __future__ import annotations

from pydantic import Field, model_validator

from contracts.common import (
    E164,
    Channel,
    Destination,
    DialledNumber,
    Identifier,
    Script,
    StrictModel,
    UtcTime,
    new_id,
)


class Location(StrictModel):
    """Where it happens, as far as it is known."""

    address: str | None = Field(None, max_length=500)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    at_sea: bool = False
    precision_m: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _lat_lon_together(self) -> Location:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together")
        return self


class Media(StrictModel):
    """An attachment kept by reference (WeChat media id, MMS URL)."""

    kind: str = Field(pattern=r"^(image|voice|video|file)$")
    ref: str = Field(min_length=1, max_length=1000)
    mime_type: str | None = None


class Alert(StrictModel):
    """A report of something happening, normalised from any channel."""

    alert_id: Identifier = Field(default_factory=new_id)
    incident_id: Identifier = Field(default_factory=new_id)
    channel: Channel
    received_at: UtcTime
    caller: E164 | None = None
    called: DialledNumber | None = None
    text: str = Field("", max_length=4000)
    location: Location | None = None
    jurisdiction: str | None = Field(None, max_length=64)
    category: str | None = Field(None, max_length=64, description="category code if known")
    script: Script | None = None
    language: str = Field("zh", max_length=16)
    call_id: Identifier | None = Field(None, description="Asterisk Uniqueid of the call")
    source_ref: str | None = Field(
        None, max_length=128, description="the peer's own id: MessageSid, MsgId, ticket id"
    )
    reporter: str | None = Field(None, max_length=128, description="WeChat openid, platform user")
    media: list[Media] = Field(default_factory=list, max_length=20)


class RoutingDecision(StrictModel):
    """Where an alert goes and why (which rule fired, which phrases matched)."""

    destination: Destination
    category: str
    rule: str
    matched: list[str] = Field(default_factory=list)
    emergency: bool
    priority: int = 0


class RoutedAlert(StrictModel):
    """An alert with its routing decision: what every destination adapter delivers."""

    alert: Alert
    decision: RoutingDecision
