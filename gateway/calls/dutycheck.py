"""Duty-line spot checks (监督检查, Lishui 丽应急〔2020〕62号: monthly phone checks of
duty lines; a line unanswered three times in the period costs points).

The planner (API process, or the schedule) picks for each unit a random moment in a
window and stores the whole batch in Redis; the runner (ami process, which holds the
AMI link) calls what is due, never more at once than `dutycheck_concurrency`, and
publishes `dutycheck.result.<outcome>` with the evidence. A check that was in flight
when a runner died is reported `failed` (outcome unknown), never called twice.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from redis.asyncio import Redis

from adapters.ami.port import OriginateOutcome, OriginateResult, TelephonyPort
from contracts.common import EventStatus, new_id, utcnow
from contracts.directory import Liaison, Unit
from contracts.dutycheck import DutyCheckOutcome, DutyCheckResult
from contracts.envelope import make_event
from gateway.calls.dutycheck_store import DutyCheckStore, PlannedCheck
from gateway.calls.emit import Emit, emit_safely
from gateway.calls.evidence import DutyLineMiss, append_miss
from gateway.calls.numbers import dial_string, line_kind, mask_phone
from gateway.directory.schedule import accepts_orders_now
from gateway.directory.store import DirectoryStore
from gateway.settings import Settings

log = structlog.get_logger(__name__)

SOURCE = "/linkgate/ami/dutycheck"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]

OUTCOMES: dict[OriginateResult, DutyCheckOutcome] = {
    "answered": "answered",
    "busy": "busy",
    "no-answer": "missed",
    "unavailable": "missed",
    "congestion": "failed",   # the network's fault, not the unit's
    "failed": "failed",
    "unknown": "failed",
}


def period_of(at: datetime) -> str:
    """The supervision period a check belongs to: the calendar month, local time."""
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m")


def check_number(unit: Unit, on_duty: Sequence[Liaison] | None = None) -> str | None:
    """The line a spot check calls: the first duty phone, else the mobile of the first
    liaison on duty (of the first liaison, when planning without a time)."""
    if unit.duty_phones:
        return unit.duty_phones[0]
    liaisons = list(on_duty) if on_duty else unit.liaisons
    return liaisons[0].mobile if liaisons else None


def plan_batch(
    units: Iterable[Unit],
    *,
    batch_id: str,
    start: datetime,
    window_minutes: int,
    rng: random.Random,
    status: EventStatus,
) -> list[PlannedCheck]:
    """A random moment in the window for each unit, so a duty room cannot guess the hour."""
    checks = []
    for unit in units:
        number = check_number(unit)
        if number is None:
            continue
        offset = rng.uniform(0, window_minutes * 60)
        checks.append(
            PlannedCheck(
                check_id=new_id(),
                batch_id=batch_id,
                unit_id=unit.id,
                number=number,
                due_at=start + timedelta(seconds=offset),
                status=status,
                line=line_kind(unit.duty_phones, number),
            )
        )
    return sorted(checks, key=lambda c: c.due_at)


class DutyCheckRunner:
    """Calls due checks with bounded concurrency; plans the scheduled batches."""

    def __init__(
        self,
        *,
        port: TelephonyPort,
        redis: Redis,
        settings: Settings,
        directory: DirectoryStore,
        emit: Emit,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        instance: str | None = None,
    ) -> None:
        self._port = port
        self._redis = redis
        self._settings = settings
        self._directory = directory
        self._emit = emit
        self._clock = clock
        self._rng = rng or random.SystemRandom()
        self._instance = instance or new_id()
        self._store = DutyCheckStore(redis, settings)
        self._slots = asyncio.Semaphore(settings.dutycheck_concurrency)
        self._running: set[str] = set()

    @property
    def store(self) -> DutyCheckStore:
        return self._store

    async def run_due(self) -> int:
        """Call every check due now, at most `dutycheck_concurrency` at once; returns count."""
        tasks: list[asyncio.Task[None]] = []
        while True:
            await self._slots.acquire()
            try:
                claimed = await self._store.claim_due(self._clock(), 1, self._instance)
            except BaseException:
                self._slots.release()
                raise
            if not claimed:
                self._slots.release()
                break
            self._running.add(claimed[0].check_id)
            tasks.append(asyncio.create_task(self._run_one(claimed[0])))
        await asyncio.gather(*tasks)
        return len(tasks)

    async def _run_one(self, check: PlannedCheck) -> None:
        try:
            started = self._clock()
            check, refusal = await self._current(check, started)
            if refusal is not None:
                outcome = OriginateOutcome(check.check_id, "failed", cause_txt=refusal)
            else:
                outcome = await self._originate(check)
            await self._report(check, outcome, started)
        except Exception as exc:  # logged and left in flight: `recover` reports it
            log.error("dutycheck.error", check_id=check.check_id, error=repr(exc))
        finally:
            self._running.discard(check.check_id)
            self._slots.release()

    async def _current(
        self, check: PlannedCheck, now: datetime
    ) -> tuple[PlannedCheck, str | None]:
        """The check as the directory stands now: a changed duty phone or liaison takes
        effect at once; a tier-3 unit is not rung outside its working hours."""
        unit = await self._directory.get(check.unit_id)
        if unit is None:
            return check, "unit no longer in the directory"
        if not accepts_orders_now(unit, now):
            return check, "outside the unit's working hours (tier 3)"
        number = check_number(unit, self._directory.on_duty_liaisons(unit, now))
        if number is None:
            return check, "unit has no number to call"
        return replace(check, number=number, line=line_kind(unit.duty_phones, number)), None

    async def _originate(self, check: PlannedCheck) -> OriginateOutcome:
        try:
            return await self._port.originate(
                request_id=check.check_id,
                endpoint=dial_string(check.number, self._settings),
                context=self._settings.dutycheck_context,
                exten=self._settings.dutycheck_exten,
                caller_id=self._settings.originate_caller_id,
                timeout_s=self._settings.dutycheck_ring_timeout_s,
                variables={"LG_REQUEST_ID": check.check_id, "LG_DUTYCHECK_UNIT": check.unit_id},
            )
        except Exception as exc:
            log.error("dutycheck.originate_error", check_id=check.check_id, error=repr(exc))
            return OriginateOutcome(request_id=check.check_id, result="unknown")

    async def _report(
        self, check: PlannedCheck, outcome: OriginateOutcome, started: datetime
    ) -> None:
        ended = self._clock()
        result_kind = OUTCOMES[outcome.result]
        period = period_of(started)
        counted = result_kind == "missed"
        prior = await self._store.misses(check.status, period, check.unit_id)
        misses = prior + 1 if counted else prior
        result = DutyCheckResult(
            check_id=check.check_id,
            batch_id=check.batch_id,
            unit_id=check.unit_id,
            number=check.number,
            outcome=result_kind,
            cause=outcome.cause,
            cause_txt=outcome.cause_txt,
            started_at=started,
            ended_at=ended,
            ring_seconds=outcome.ring_seconds,
            call_id=outcome.uniqueid,
            misses_in_period=misses,
            flagged=misses >= self._settings.dutycheck_miss_threshold,
        )
        if result_kind in ("missed", "busy"):
            await append_miss(
                self._redis,
                self._settings,
                DutyLineMiss(
                    unit_id=check.unit_id,
                    number=check.number,
                    at=ended,
                    started_at=started,
                    result=outcome.result,
                    cause=outcome.cause,
                    source="dutycheck",
                    ref=check.check_id,
                    status=check.status,
                    line=check.line,
                ),
            )
        await self._store.finish(result, check.status, period, counted)
        if result.flagged and counted:
            await self._store.flag(check.status, period, check.unit_id, ended)
        log.info(
            "dutycheck.result",
            check_id=check.check_id,
            unit_id=check.unit_id,
            number=mask_phone(check.number),
            outcome=result_kind,
            misses=misses,
            flagged=result.flagged,
        )
        event = make_event(result, source=SOURCE, subject=None, status=check.status)
        await emit_safely(self._emit, event)

    async def recover(self, *, others: bool = True) -> int:
        """Report as `failed` the checks left in flight by a dead runner (`others`, at
        start) or by one of our own calls whose report failed; never call them again."""
        count = 0
        for check_id, owner in (await self._store.in_flight()).items():
            if check_id in self._running or (owner != self._instance and not others):
                continue
            check = await self._store.plan(check_id)
            if check is None:
                continue
            log.warning("dutycheck.recovered_unknown", check_id=check_id)
            await self._report(
                check, OriginateOutcome(request_id=check_id, result="unknown"), self._clock()
            )
            count += 1
        return count

    async def plan(
        self,
        units: list[Unit],
        *,
        start: datetime,
        window_minutes: int,
        status: EventStatus,
        scope: str,
    ) -> tuple[str, list[PlannedCheck]]:
        """Plan and store a batch (the API's planner does the same, see `plan_and_store`)."""
        return await plan_and_store(
            self._store, units, start=start, window_minutes=window_minutes,
            status=status, scope=scope, rng=self._rng,
        )

    async def maybe_schedule(self) -> str | None:
        """On a scheduled day, plan one batch of every unit inside the day's window."""
        now = self._clock()
        local = now.astimezone(LOCAL_TZ)
        if local.day not in self._settings.dutycheck_schedule_days:
            return None
        hour, minute = (int(p) for p in self._settings.dutycheck_window_start.split(":"))
        start = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        end = start + timedelta(minutes=self._settings.dutycheck_window_minutes)
        if local >= end or not await self._store.schedule_once(local.date()):
            return None
        begin = max(start, local)
        minutes = int((end - begin).total_seconds() // 60)
        batch_id, _ = await self.plan(
            await self._directory.all(),
            start=begin,
            window_minutes=minutes,
            status=EventStatus.ACTUAL,
            scope="schedule:all",
        )
        return batch_id

    async def run_forever(self, sleep: Sleep = asyncio.sleep) -> None:
        """The ami process's loop: recover, then schedule and call what is due."""
        await self.recover()
        while True:
            try:
                await self.maybe_schedule()
                await self.run_due()
                await self.recover(others=False)
            except Exception as exc:  # Redis blip: log and go on, the plan stays in Redis
                log.error("dutycheck.loop_error", error=repr(exc))
            await sleep(self._settings.dutycheck_poll_interval_s)


async def plan_and_store(
    store: DutyCheckStore,
    units: list[Unit],
    *,
    start: datetime,
    window_minutes: int,
    status: EventStatus,
    scope: str,
    rng: random.Random,
    batch_id: str | None = None,
) -> tuple[str, list[PlannedCheck]]:
    """Plan a batch and store it whole; returns the batch id and its checks."""
    batch_id = batch_id or new_id()
    checks = plan_batch(
        units, batch_id=batch_id, start=start, window_minutes=window_minutes, rng=rng,
        status=status,
    )
    meta = {
        "scope": scope,
        "status": status.value,
        "created_at": utcnow().isoformat(),
        "window_start": start.isoformat(),
        "window_minutes": str(window_minutes),
        "count": str(len(checks)),
    }
    await store.add_batch(batch_id, meta, checks)
    return batch_id, checks
