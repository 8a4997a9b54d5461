"""Unit directory API: read units, change a unit or its liaisons (recorded, effective at once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from contracts.directory import Liaison, Unit
from gateway.api.deps import Caller, get_directory, require_scope
from gateway.directory.store import DirectoryError, DirectoryStore

router = APIRouter(prefix="/v1/units", tags=["units"])


class LiaisonsChange(BaseModel):
    """The new full list of a unit's liaisons."""

    model_config = {"extra": "forbid"}
    liaisons: list[Liaison] = Field(min_length=1, max_length=20)


@router.get("")
async def list_units(
    directory: Annotated[DirectoryStore, Depends(get_directory)],
    _: Annotated[Caller, Depends(require_scope("units:read"))],
) -> list[Unit]:
    return await directory.all()


@router.get("/{unit_id}")
async def get_unit(
    unit_id: str,
    directory: Annotated[DirectoryStore, Depends(get_directory)],
    _: Annotated[Caller, Depends(require_scope("units:read"))],
) -> Unit:
    unit = await directory.get(unit_id)
    if unit is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown-unit")
    return unit


@router.put("/{unit_id}")
async def put_unit(
    unit_id: str,
    unit: Unit,
    directory: Annotated[DirectoryStore, Depends(get_directory)],
    caller: Annotated[Caller, Depends(require_scope("units:write"))],
) -> Unit:
    if unit.id != unit_id:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="unit-id-mismatch")
    await directory.put_unit(unit, by=caller.key_id)
    return unit


@router.put("/{unit_id}/liaisons")
async def put_liaisons(
    unit_id: str,
    change: LiaisonsChange,
    directory: Annotated[DirectoryStore, Depends(get_directory)],
    caller: Annotated[Caller, Depends(require_scope("units:write"))],
) -> Unit:
    try:
        return await directory.put_liaisons(unit_id, change.liaisons, by=caller.key_id)
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown-unit") from None
    except DirectoryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
