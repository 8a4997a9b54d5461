"""`TelephonyPort` over AMI: originate with a preset ChannelId, redirect, transfer, hang up.

The outcome of an Originate is decided by the `Hangup` Cause of the channel whose
Uniqueid is our ChannelId, not by the OriginateResponse `Reason`: with chan_pjsip a
`486 Busy Here` gives Reason 0 (not 5) but Cause 17, and an endpoint that never
rang gives Reason 3 like a ringing one (captures 04, 06). OriginateResponse and
that Hangup arrive in either order.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from adapters.ami.client import AmiClient
from adapters.ami.errors import AmiActionError, AmiLinkLost, AmiTimeout
from adapters.ami.frame import Frame
from adapters.ami.port import ChannelInfo, OriginateOutcome, OriginateResult

log = logging.getLogger("linkgate.ami.telephony")

REQUEST_ID_VAR = "LG_REQUEST_ID"
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

# Q.850 cause → outcome (ITU-T Q.850 Table 1; what chan_pjsip maps SIP replies to)
_CAUSES: dict[int, OriginateResult] = {
    17: "busy",                          # 486 Busy Here
    18: "unavailable",                   # no user responding (SIP timer B, 408)
    19: "no-answer",                     # user alerting, no answer (Originate Timeout)
    20: "unavailable",                   # subscriber absent (480)
    1: "unavailable", 3: "unavailable", 22: "unavailable", 27: "unavailable",
    28: "unavailable", 38: "congestion", 34: "congestion", 41: "congestion", 42: "congestion",
    44: "congestion", 21: "failed",      # call rejected (603)
}
# only when no Hangup came (AST_CONTROL_* numbers carried as OriginateResponse Reason)
_REASONS: dict[str, OriginateResult] = {
    "5": "busy", "3": "no-answer", "8": "congestion", "1": "failed", "0": "failed",
}

STATE_NAMES = {"0": "Down", "4": "Ring", "5": "Ringing", "6": "Up"}


def result_for_cause(cause: int | None) -> OriginateResult:
    if cause is None:
        return "failed"
    return _CAUSES.get(cause, "failed")


@dataclass
class _Attempt:
    request_id: str
    channel_id: str
    future: asyncio.Future[OriginateOutcome]
    ring_started: float | None = None
    hangup: tuple[int | None, str | None] | None = None
    failed_reason: str | None = None
    timer: asyncio.TimerHandle | None = None
    extra: dict[str, str] = field(default_factory=dict)


class AmiTelephony:
    """The AMI implementation of `adapters.ami.port.TelephonyPort`."""

    def __init__(
        self,
        client: AmiClient,
        *,
        hangup_grace_s: float = 2.0,
        response_margin_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.hangup_grace_s = hangup_grace_s
        self.response_margin_s = response_margin_s
        self._clock = clock
        self._by_uid: dict[str, _Attempt] = {}
        self._by_aid: dict[str, _Attempt] = {}
        client.add_listener(self._on_event)
        client.on_disconnect(self._on_link_down)

    # ------------------------------------------------------------------ originate
    async def originate(
        self,
        *,
        request_id: str,
        endpoint: str,
        context: str,
        exten: str,
        caller_id: str,
        timeout_s: float,
        variables: Mapping[str, str],
    ) -> OriginateOutcome:
        """Async Originate; our request id is ActionID, ChannelId and `LG_REQUEST_ID`."""
        if request_id in self._by_aid or request_id in self._by_uid:
            raise ValueError(f"originate {request_id!r} is already in flight")
        var_headers = [f"{REQUEST_ID_VAR}={request_id}"]
        for name, value in variables.items():
            if not _VAR_NAME.match(name) or "," in value:
                raise ValueError(f"bad channel variable {name!r} (names [A-Za-z0-9_], no commas)")
            if name != REQUEST_ID_VAR:
                var_headers.append(f"{name}={value}")
        headers: dict[str, str | list[str]] = {
            "Channel": endpoint,
            "Context": context,
            "Exten": exten,
            "Priority": "1",
            "CallerID": caller_id,
            "Timeout": str(int(timeout_s * 1000)),
            "ChannelId": request_id,
            "Async": "true",
            "Variable": var_headers,
        }
        loop = asyncio.get_running_loop()
        attempt = _Attempt(request_id, request_id, loop.create_future())
        self._by_aid[request_id] = attempt
        self._by_uid[request_id] = attempt
        try:
            try:
                resp = await self.client.action(
                    "Originate", headers, action_id=request_id, check=False
                )
            except (AmiLinkLost, AmiTimeout) as exc:
                log.error("originate %s: %s; outcome unknown, not re-sent", request_id, exc)
                return OriginateOutcome(request_id, "unknown", uniqueid=request_id)
            if resp.name != "Success":
                log.warning("originate %s refused: %s", request_id, resp.get("Message"))
                return OriginateOutcome(request_id, "failed", cause_txt=resp.get("Message"))
            try:
                return await asyncio.wait_for(
                    asyncio.shield(attempt.future), timeout_s + self.response_margin_s
                )
            except TimeoutError:
                log.error("originate %s: no OriginateResponse; outcome unknown", request_id)
                return OriginateOutcome(request_id, "unknown", uniqueid=request_id)
        finally:
            if attempt.timer is not None:
                attempt.timer.cancel()
            self._by_aid.pop(request_id, None)
            self._by_uid.pop(request_id, None)

    def _resolve(self, attempt: _Attempt, outcome: OriginateOutcome) -> None:
        if not attempt.future.done():
            attempt.future.set_result(outcome)

    def _ring_seconds(self, attempt: _Attempt) -> float | None:
        if attempt.ring_started is None:
            return None
        return round(self._clock() - attempt.ring_started, 3)

    def _on_event(self, frame: Frame) -> None:
        name = frame.name
        if name == "OriginateResponse":
            attempt = self._by_aid.get(frame.get("ActionID") or "")
            if attempt is not None:
                self._on_originate_response(attempt, frame)
            return
        uid = frame.get("Uniqueid") or frame.get("DestUniqueid")
        attempt = self._by_uid.get(uid or "")
        if attempt is None:
            return
        if name == "Newstate" and frame.get("ChannelStateDesc") == "Ringing":
            attempt.ring_started = attempt.ring_started or self._clock()
        elif name == "Hangup" and frame.get("Uniqueid") == attempt.channel_id:
            cause = _int(frame.get("Cause"))
            attempt.hangup = (cause, frame.get("Cause-txt"))
            if attempt.failed_reason is not None:
                self._finish_failure(attempt)

    def _on_originate_response(self, attempt: _Attempt, frame: Frame) -> None:
        if frame.get("Response") == "Success":
            self._resolve(
                attempt,
                OriginateOutcome(
                    attempt.request_id, "answered", channel=frame.get("Channel"),
                    uniqueid=frame.get("Uniqueid"), ring_seconds=self._ring_seconds(attempt),
                ),
            )
            return
        attempt.failed_reason = frame.get("Reason") or "0"
        if frame.get("Uniqueid") in (None, "", "<unknown>"):
            # no channel could even be created (unknown endpoint, capture 09)
            self._resolve(attempt, OriginateOutcome(attempt.request_id, "unavailable"))
        elif attempt.hangup is not None:
            self._finish_failure(attempt)
        else:
            loop = asyncio.get_running_loop()
            attempt.timer = loop.call_later(self.hangup_grace_s, self._finish_failure, attempt)

    def _finish_failure(self, attempt: _Attempt) -> None:
        if attempt.hangup is not None:
            cause, txt = attempt.hangup
            result = result_for_cause(cause)
        else:  # the Hangup never came: fall back on Reason
            cause, txt = None, None
            result = _REASONS.get(attempt.failed_reason or "0", "failed")
        self._resolve(
            attempt,
            OriginateOutcome(
                attempt.request_id, result, uniqueid=attempt.channel_id, cause=cause,
                cause_txt=txt, ring_seconds=self._ring_seconds(attempt),
            ),
        )

    def _on_link_down(self) -> None:
        """Events may be lost from here on: every undecided originate becomes `unknown`."""
        for attempt in list(self._by_aid.values()):
            unknown = OriginateOutcome(attempt.request_id, "unknown", uniqueid=attempt.channel_id)
            self._resolve(attempt, unknown)

    # ------------------------------------------------------------------ other actions
    async def redirect(
        self, *, channel: str, extra_channel: str | None, context: str, exten: str
    ) -> None:
        headers = {"Channel": channel, "Context": context, "Exten": exten, "Priority": "1"}
        if extra_channel:
            headers.update(
                {"ExtraChannel": extra_channel, "ExtraContext": context, "ExtraExten": exten,
                 "ExtraPriority": "1"}
            )
        await self.client.action("Redirect", headers)

    async def blind_transfer(self, *, channel: str, context: str, exten: str) -> None:
        await self.client.action(
            "BlindTransfer", {"Channel": channel, "Context": context, "Exten": exten}
        )

    async def hangup(self, *, channel: str, cause: int = 16) -> None:
        if channel.startswith("/"):
            raise ValueError("regex hangups are not offered through the port")
        await self.client.action("Hangup", {"Channel": channel, "Cause": str(cause)})

    async def channels(self) -> list[ChannelInfo]:
        try:
            _, items = await self.client.list_action("CoreShowChannels")
        except AmiActionError:
            raise
        return [channel_info(item) for item in items if item.name == "CoreShowChannel"]

    def events(self) -> AsyncIterator[Mapping[str, str]]:
        return _as_mappings(self.client.subscribe())


def channel_info(item: Frame) -> ChannelInfo:
    """A CoreShowChannel (or any channel snapshot) as ChannelInfo."""
    caller = item.get("CallerIDNum")
    return ChannelInfo(
        channel=item.get("Channel") or "",
        uniqueid=item.get("Uniqueid") or "",
        linkedid=item.get("Linkedid") or "",
        state=item.get("ChannelStateDesc") or STATE_NAMES.get(item.get("ChannelState") or "", ""),
        caller_number=None if caller in (None, "", "<unknown>") else caller,
        context=item.get("Context") or None,
        exten=item.get("Exten") or None,
        bridge_id=item.get("BridgeId") or None,
        variables={k: v for k, v in item.variables().items() if v},
    )


async def _as_mappings(frames: AsyncIterator[Frame]) -> AsyncIterator[Mapping[str, str]]:
    async for frame in frames:
        yield _first_values(frame)


def _first_values(frame: Frame) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in frame.headers:
        out.setdefault(key, value)
    return out


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
