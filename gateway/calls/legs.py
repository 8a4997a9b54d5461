"""Find the caller and operator legs of a call from the PBX's live channels."""

from __future__ import annotations

from adapters.ami.port import ChannelInfo, TelephonyPort


def pick_legs(
    channels: list[ChannelInfo], call_id: str
) -> tuple[str | None, str | None]:
    """(caller channel, operator channel) for the caller's Uniqueid `call_id`.

    The operator is the other channel in the caller's bridge or, if the caller is not
    bridged with exactly one other channel, the one other channel of the same call
    (Linkedid: the operator leg was dialled by the caller's). None where not found.
    """
    caller = next((c for c in channels if c.uniqueid == call_id), None)
    if caller is None:
        return None, None
    others = [c for c in channels if c.channel != caller.channel]
    bridged = [c for c in others if caller.bridge_id and c.bridge_id == caller.bridge_id]
    linked = [c for c in others if c.linkedid == caller.linkedid]
    for group in (bridged, linked):
        if len(group) == 1:
            return caller.channel, group[0].channel
    return caller.channel, None


async def find_legs(
    port: TelephonyPort, call_id: str, caller: str | None, operator: str | None
) -> tuple[str | None, str | None]:
    """Legs as given, completed from `CoreShowChannels` only when one is missing."""
    if caller and operator:
        return caller, operator
    found_caller, found_operator = pick_legs(await port.channels(), call_id)
    return caller or found_caller, operator or found_operator
