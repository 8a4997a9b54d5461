"""CloudEvents 1.0 envelope (structured JSON mode) around every contract model."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from contracts.common import EventStatus, StrictModel, UtcTime, new_id, utcnow

TRACEPARENT_PATTERN = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


class CloudEvent(StrictModel):
    """The envelope. `subject` is the incident id; `status` tells drills from real events."""

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=new_id, min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=256, examples=["/linkgate/webhooks/sms"])
    type: str = Field(pattern=r"^cn\.linkage\.[a-z]+\.[a-z]+$")
    time: UtcTime = Field(default_factory=utcnow)
    subject: str | None = Field(None, max_length=128)
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    data: dict[str, Any]
    status: EventStatus = EventStatus.ACTUAL
    traceparent: str | None = Field(None, pattern=TRACEPARENT_PATTERN)

    def to_json(self) -> bytes:
        """Serialise as the structured-mode JSON body (UTF-8, no ASCII escaping)."""
        return self.model_dump_json(exclude_none=True).encode()


class ContractError(ValueError):
    """An event that does not fit the contract; `reason` is machine-readable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def make_event(
    data: BaseModel,
    *,
    source: str,
    subject: str | None = None,
    status: EventStatus = EventStatus.ACTUAL,
    traceparent: str | None = None,
    event_id: str | None = None,
) -> CloudEvent:
    """Wrap a contract model in its envelope; the type follows from the model's class."""
    from contracts.registry import event_type_for_model

    et = event_type_for_model(type(data))
    return CloudEvent(
        id=event_id or new_id(),
        source=source,
        type=et.type,
        subject=subject,
        dataschema=et.dataschema,
        data=data.model_dump(mode="json", exclude_none=True),
        status=status,
        traceparent=traceparent,
    )


def parse_event(raw: bytes | str | dict[str, Any]) -> tuple[CloudEvent, BaseModel]:
    """Parse and validate an envelope and its data; raise ContractError with a reason."""
    from contracts.registry import EVENT_TYPES

    try:
        obj = json.loads(raw) if isinstance(raw, bytes | str) else raw
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ContractError("invalid-json", str(exc)) from exc
    if not isinstance(obj, dict):
        raise ContractError("invalid-envelope", "a CloudEvent must be a JSON object")
    try:
        event = CloudEvent.model_validate(obj)
    except ValidationError as exc:
        raise ContractError("invalid-envelope", _errors(exc)) from exc
    et = EVENT_TYPES.get(event.type)
    if et is None:
        raise ContractError("unknown-type", f"no contract for type {event.type!r}")
    try:
        model = et.model.model_validate(event.data)
    except ValidationError as exc:
        raise ContractError("invalid-data", _errors(exc)) from exc
    return event, model


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )
