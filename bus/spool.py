"""Durable local spool: what a webhook accepted is never lost while the broker is down.

`publish_or_spool` tries a confirmed publish; if the broker cannot confirm, the event
goes into a SQLite file (synchronous=FULL, committed before we return) and a drainer
publishes it later, oldest first, deleting a row only after the broker confirmed it.
A crash between confirm and delete re-publishes the same event id, which consumers'
idempotency by message id absorbs.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import sqlite3
from pathlib import Path

import structlog

from bus import metrics
from bus.errors import PublishError, UnroutableError
from bus.publisher import Publisher
from bus.tracecontext import stamp
from contracts.envelope import CloudEvent
from contracts.registry import routing_key_for

log = structlog.get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    routing_key TEXT NOT NULL,
    body BLOB NOT NULL,
    spooled_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""


class Spool:
    """A SQLite-backed outbox shared by the processes of one host (one file per directory)."""

    def __init__(self, directory: Path, publisher: Publisher | None, fast_timeout_s: float = 2.0):
        directory.mkdir(parents=True, exist_ok=True)
        self._path = directory / "spool.sqlite3"
        self._lock_path = directory / "spool.drain.lock"
        self._publisher = publisher
        self._fast_timeout = fast_timeout_s
        with contextlib.closing(self._db()) as db:
            db.execute(_SCHEMA)
        # While anything waits in the spool, new events queue behind it (order kept);
        # the flag keeps SQLite off the hot path when the spool is empty.
        self._backlog = self.depth() > 0

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def set_publisher(self, publisher: Publisher | None) -> None:
        self._publisher = publisher

    async def publish_or_spool(self, event: CloudEvent) -> bool:
        """Publish now if the broker confirms; otherwise spool durably. True if published."""
        event = stamp(event)  # a spooled event keeps the trace it was accepted in
        if self._publisher is not None and self._publisher.is_connected and not self._backlog:
            try:
                await asyncio.wait_for(self._publisher.publish(event), self._fast_timeout)
                return True
            except UnroutableError:
                raise
            except (PublishError, TimeoutError) as exc:
                log.warning("spool.publish_failed", id=event.id, error=repr(exc))
        await asyncio.to_thread(self._insert, event)
        self._backlog = True
        metrics.SPOOLED.inc()
        log.warning("spool.spooled", id=event.id, type=event.type)
        return False

    def _insert(self, event: CloudEvent) -> None:
        with contextlib.closing(self._db()) as db:
            db.execute(
                "INSERT OR IGNORE INTO spool (event_id, routing_key, body) VALUES (?, ?, ?)",
                (event.id, routing_key_for(event), event.to_json()),
            )

    def depth(self) -> int:
        with contextlib.closing(self._db()) as db:
            row = db.execute("SELECT COUNT(*) FROM spool").fetchone()
            return int(row[0])

    def _oldest(self, limit: int) -> list[tuple[int, str, bytes]]:
        with contextlib.closing(self._db()) as db:
            return list(
                db.execute(
                    "SELECT seq, routing_key, body FROM spool ORDER BY seq LIMIT ?", (limit,)
                )
            )

    def _delete(self, seq: int) -> None:
        with contextlib.closing(self._db()) as db:
            db.execute("DELETE FROM spool WHERE seq = ?", (seq,))

    async def drain_once(self, batch: int = 500) -> int:
        """Publish spooled events in order until empty or the broker fails; return count sent."""
        if self._publisher is None or not (self._backlog or self.depth()):
            return 0
        self._backlog = True
        with open(self._lock_path, "w") as lock:  # noqa: ASYNC230 (tiny local lock file)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # another process of this host is draining
            sent = 0
            while True:
                rows = await asyncio.to_thread(self._oldest, batch)
                if not rows:
                    self._backlog = False
                    return sent
                for seq, routing_key, body in rows:
                    event = CloudEvent.model_validate_json(body)
                    try:
                        await self._publisher.publish(event, routing_key)
                    except PublishError as exc:
                        log.warning("spool.drain_paused", error=repr(exc), left=len(rows))
                        return sent
                    await asyncio.to_thread(self._delete, seq)
                    sent += 1

    async def run_drainer(self, interval_s: float = 1.0) -> None:
        """Drain forever (a background task of each process that spools)."""
        while True:
            try:
                sent = await self.drain_once()
                if sent:
                    log.info("spool.drained", sent=sent)
            except Exception as exc:  # keep draining whatever happens
                log.error("spool.drainer_error", error=repr(exc))
            await asyncio.sleep(interval_s)
