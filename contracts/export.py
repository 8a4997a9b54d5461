"""Write the JSON Schema of every message (and the envelope) to a folder."""

from __future__ import annotations

import json
from pathlib import Path

from contracts.directory import UnitDirectory
from contracts.envelope import CloudEvent
from contracts.registry import EVENT_TYPES


def export_schemas(target: Path) -> list[Path]:
    """One `<type>.schema.json` per event type, plus the envelope and the unit directory."""
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    schemas = {
        "cloudevent": CloudEvent.model_json_schema(),
        "unit-directory": UnitDirectory.model_json_schema(),
    }
    for et in EVENT_TYPES.values():
        schema = et.model.model_json_schema()
        schema["$id"] = et.dataschema
        schemas[et.type] = schema
    for name, schema in schemas.items():
        path = target / f"{name}.schema.json"
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
