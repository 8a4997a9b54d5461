"""The unit directory in Redis: read by every process, changed through the API.

Keys (namespaced by `settings.key`):
- `dir:units`   hash unit id → Unit JSON
- `dir:mobile`  hash E.164 → unit id (liaison mobiles and duty phones)
- `dir:changes` stream of changes with who and when (an unreported liaison change costs
  a unit points, so every change is evidence)
Every change is one MULTI/EXEC: readers never see half a unit.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import ValidationError
from redis.asyncio import Redis

from contracts.common import utcnow
from contracts.directory import Liaison, Unit, UnitDirectory
from gateway.directory import schedule
from gateway.settings import Settings


class DirectoryError(ValueError):
    """A directory entry or file that cannot be accepted; nothing was changed."""


def parse_directory(text: str, source: str = "<directory>") -> UnitDirectory:
    """Parse YAML or JSON into a validated directory, or raise DirectoryError."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DirectoryError(f"{source}: not valid YAML/JSON: {exc}") from exc
    try:
        return UnitDirectory.model_validate(raw)
    except ValidationError as exc:
        raise DirectoryError(f"{source}: {exc}") from exc


class DirectoryStore:
    """Read and change the directory; every process shares it through Redis."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._units = settings.key("dir", "units")
        self._mobile = settings.key("dir", "mobile")
        self._changes = settings.key("dir", "changes")

    async def load_file(self, path: Path, by: str) -> int:
        """Replace the directory with a validated file; returns the number of units."""
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        directory = parse_directory(text, str(path))
        await self.replace(directory.units, by=by)
        return len(directory.units)

    async def replace(self, units: list[Unit], by: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._units, self._mobile)
            for unit in units:
                pipe.hset(self._units, unit.id, unit.model_dump_json())
                for number in _numbers(unit):
                    pipe.hset(self._mobile, number, unit.id)
            pipe.xadd(self._changes, _change("directory_loaded", "*", by, {"units": len(units)}))
            await pipe.execute()

    async def get(self, unit_id: str) -> Unit | None:
        raw = await self._redis.hget(self._units, unit_id)
        return Unit.model_validate_json(raw) if raw else None

    async def all(self) -> list[Unit]:
        raw = await self._redis.hgetall(self._units)
        return sorted((Unit.model_validate_json(v) for v in raw.values()), key=lambda u: u.id)

    async def put_unit(self, unit: Unit, by: str) -> Unit | None:
        """Create or replace a unit; returns the previous version (None if new)."""
        previous = await self.get(unit.id)
        await self._write(unit, previous, "unit_changed", by)
        return previous

    async def put_liaisons(self, unit_id: str, liaisons: list[Liaison], by: str) -> Unit:
        """Replace a unit's liaisons; effective at once, recorded with who and when."""
        unit = await self.get(unit_id)
        if unit is None:
            raise KeyError(unit_id)
        try:
            updated = Unit.model_validate({**unit.model_dump(), "liaisons": liaisons})
        except ValidationError as exc:
            raise DirectoryError(str(exc)) from exc
        await self._write(updated, unit, "liaison_changed", by)
        return updated

    async def _write(self, unit: Unit, previous: Unit | None, kind: str, by: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            if previous is not None:
                for number in _numbers(previous):
                    pipe.hdel(self._mobile, number)
            pipe.hset(self._units, unit.id, unit.model_dump_json())
            for number in _numbers(unit):
                pipe.hset(self._mobile, number, unit.id)
            detail = {
                "before": previous.model_dump(mode="json") if previous else None,
                "after": unit.model_dump(mode="json"),
            }
            pipe.xadd(self._changes, _change(kind, unit.id, by, detail))
            await pipe.execute()

    async def find_by_mobile(self, number: str) -> tuple[Unit, Liaison | None] | None:
        """The unit (and liaison, if it is a liaison's mobile) a phone number belongs to."""
        unit_id = await self._redis.hget(self._mobile, number)
        if unit_id is None:
            return None
        unit = await self.get(unit_id.decode() if isinstance(unit_id, bytes) else unit_id)
        if unit is None:
            return None
        liaison = next((li for li in unit.liaisons if li.mobile == number), None)
        return unit, liaison

    async def changes(self, unit_id: str | None = None, count: int = 1000) -> list[dict[str, str]]:
        """Recorded changes, newest last (optionally for one unit)."""
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            await self._redis.xrange(self._changes, count=count),
        )
        out = []
        for entry_id, fields in entries:
            row = {k.decode(): v.decode() for k, v in fields.items()}
            row["id"] = entry_id.decode()
            if unit_id is None or row.get("unit_id") == unit_id:
                out.append(row)
        return out

    @staticmethod
    def on_duty_liaisons(unit: Unit, at: datetime) -> list[Liaison]:
        return schedule.on_duty_liaisons(unit, at)


def _numbers(unit: Unit) -> list[str]:
    return [li.mobile for li in unit.liaisons] + list(unit.duty_phones)


def _change(kind: str, unit_id: str, by: str, detail: object) -> dict[Any, Any]:
    return {
        "kind": kind,
        "unit_id": unit_id,
        "by": by,
        "at": utcnow().isoformat(),
        "detail": json.dumps(detail, ensure_ascii=False),
    }
