"""Contracts: golden examples validate, bad input is refused with clear reasons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts import (
    EVENT_TYPES,
    Alert,
    make_event,
    normalise_e164,
    parse_event,
    routing_key_for,
    utcnow,
)
from contracts.envelope import ContractError

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "contracts" / "examples").glob("*.json"))


def test_there_is_a_golden_example_for_every_event_type() -> None:
    types = {json.loads(p.read_text())["type"] for p in EXAMPLES}
    assert types == set(EVENT_TYPES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_golden_example_validates_and_keeps_its_routing_key(path: Path) -> None:
    event, model = parse_event(path.read_bytes())
    assert routing_key_for(event) == path.stem
    assert event.specversion == "1.0" and event.dataschema.startswith("urn:linkage-gateway:schema:")
    # a round trip through our own serialiser gives the same envelope and model
    again = make_event(
        model,
        source=event.source,
        subject=event.subject,
        status=event.status,
        traceparent=event.traceparent,
        event_id=event.id,
    ).model_copy(update={"time": event.time})
    assert parse_event(again.to_json()) == (again, model)
    assert again.model_dump(exclude={"data"}) == event.model_dump(exclude={"data"})


def test_unknown_fields_are_rejected_in_envelope_and_data() -> None:
    doc = json.loads(EXAMPLES[0].read_bytes())
    with pytest.raises(ContractError) as exc:
        parse_event({**doc, "colour": "red"})
    assert exc.value.reason == "invalid-envelope" and "colour" in exc.value.detail
    doc["data"]["priority_hint"] = "high"
    with pytest.raises(ContractError) as exc:
        parse_event(doc)
    assert exc.value.reason == "invalid-data" and "priority_hint" in exc.value.detail


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "invalid-json"),
        (b"[1, 2]", "invalid-envelope"),
        (b'{"specversion": "1.0"}', "invalid-envelope"),
    ],
)
def test_malformed_envelopes_have_machine_readable_reasons(raw: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as exc:
        parse_event(raw)
    assert exc.value.reason == reason


def test_unknown_type_is_refused() -> None:
    doc = json.loads(EXAMPLES[0].read_bytes())
    doc["type"] = "cn.linkage.weather.forecast"
    with pytest.raises(ContractError) as exc:
        parse_event(doc)
    assert exc.value.reason == "unknown-type"


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Alert(channel="sms", received_at="2026-11-23T10:00:00", text="x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("008613800138000", "+8613800138000"),
        ("8613800138000", "+8613800138000"),
        ("0578-2123456", "+865782123456"),
        ("+86 0578 2123456", "+865782123456"),
        ("+14155552671", "+14155552671"),
    ],
)
def test_phone_numbers_normalise_to_e164(raw: str, e164: str) -> None:
    assert normalise_e164(raw) == e164
    assert Alert(channel="sms", received_at=utcnow(), caller=raw).caller == e164


@pytest.mark.parametrize("raw", ["110", "12345", "abc", "138001380", "+0123"])
def test_garbled_caller_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        Alert(channel="sms", received_at=utcnow(), caller=raw)


@given(st.text(max_size=30))
def test_normalise_e164_only_returns_e164_or_raises(raw: str) -> None:
    try:
        out = normalise_e164(raw)
    except ValueError:
        return
    assert out.startswith("+") and out[1:].isdigit() and 8 <= len(out) <= 16


def test_ids_are_sortable_by_creation() -> None:
    ids = [
        make_event(Alert(channel="api", received_at=utcnow()), source="/t").id for _ in range(50)
    ]
    assert ids == sorted(ids)


def test_schema_export_writes_every_type(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "contracts", "export", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    files = {p.name for p in tmp_path.iterdir()}
    assert {f"{t}.schema.json" for t in EVENT_TYPES} <= files
    assert "cloudevent.schema.json" in files and len(out.stdout.splitlines()) == len(files)
    schema = json.loads((tmp_path / "cn.linkage.alert.received.schema.json").read_text())
    assert schema["additionalProperties"] is False and schema["$id"].endswith("alert.received:v1")
