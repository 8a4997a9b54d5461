"""`linkgate route`: classify alerts offline (no broker, no Redis; rules loaded once)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from gateway.routing.engine import RuleEngine
from gateway.routing.rules import RulesError
from gateway.routing.service import RouteRequest, route
from gateway.settings import SettingsError, load_settings


def _rules_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    try:
        return load_settings().rules_file
    except SettingsError as exc:
        raise RulesError(str(exc), source="settings") from None


def _error(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
    )


def route_command(
    *,
    text: str | None,
    channel: str,
    rules_file: Path | None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Print one JSON object per alert; 0 = all routed, 1 = some input lines refused,
    2 = unusable rules or arguments (message on stderr)."""
    out = stdout or sys.stdout
    try:
        engine = RuleEngine.from_file(_rules_path(rules_file))
    except RulesError as exc:
        print(f"rules refused: {exc}", file=sys.stderr)
        return 2
    if text is not None:
        try:
            request = RouteRequest.model_validate({"text": text, "channel": channel})
        except ValidationError as exc:
            print(f"invalid alert: {_error(exc)}", file=sys.stderr)
            return 2
        out.write(route(engine, request).model_dump_json() + "\n")
        return 0
    failures = 0
    for lineno, line in enumerate(stdin or sys.stdin, 1):
        if not line.strip():
            continue
        try:
            request = RouteRequest.model_validate_json(line)
        except ValidationError as exc:
            failures += 1
            out.write(json.dumps({"error": _error(exc), "line": lineno}, ensure_ascii=False) + "\n")
            continue
        out.write(route(engine, request).model_dump_json() + "\n")
    out.flush()
    return 1 if failures else 0
