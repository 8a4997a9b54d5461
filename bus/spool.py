"""Durable local spool: what a webhook accepted is never lost while the broker is down.

`publish_or_spool` tries a confirmed publish; if the broker cannot confirm, the event
goes into a SQLite file (synchronous=FULL, committed before we return) and a drainer
publishes it later, oldest first, deleting a row only after the broker confirmed it.
A crash between confirm and delete re-publishes the same event id, which consumers'
idempotency by message id absorbs.

Built for the moment it matters, a surge while the broker struggles: inserts that arrive
together are committed together (one transaction, one fsync, on one long-lived SQLite
connection), and the drainer publishes a batch pipelined (confirms awaited together, in
order on one channel) and deletes it in one transaction, then goes straight on while rows
remain. One row per insert and one publish per round trip made the spool slower than the
traffic it absorbed: once an overloaded publish timed out, every later webhook queued
behind the backlog and the backlog never shrank.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import sqlite3
import threading
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
        # inserts waiting for the next group commit, and the task committing them
        self._pending: list[tuple[tuple[str, str, bytes], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._conn: sqlite3.Connection | None = None  # the writer's, used under _conn_lock
        self._conn_lock = threading.Lock()

    def _db(self, check_same_thread: bool = True) -> sqlite3.Connection:
        db = sqlite3.connect(
            self._path, timeout=30, isolation_level=None, check_same_thread=check_same_thread
        )
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
        self._backlog = True  # before the insert: later events queue behind this one
        await self._insert(event)
        metrics.SPOOLED.inc()
        log.warning("spool.spooled", id=event.id, type=event.type)
        return False

    async def _insert(self, event: CloudEvent) -> None:
        """Durably stored when this returns: joins the next group commit."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(((event.id, routing_key_for(event), event.to_json()), done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._commit_pending(), name="spool.writer")
        await asyncio.shield(done)  # a cancelled webhook does not cancel the others' commit

    async def _commit_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._insert_many, [row for row, _ in batch])
            except BaseException as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc if isinstance(exc, Exception) else
                                           RuntimeError(f"spool write cancelled: {exc!r}"))
                if not isinstance(exc, Exception):
                    raise
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def _insert_many(self, rows: list[tuple[str, str, bytes]]) -> None:
        with self._conn_lock:
            if self._conn is None:
                self._conn = self._db(check_same_thread=False)
            db = self._conn
            try:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    "INSERT OR IGNORE INTO spool (event_id, routing_key, body) VALUES (?, ?, ?)",
                    rows,
                )
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise

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

    def _delete(self, seqs: list[int]) -> None:
        with contextlib.closing(self._db()) as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("DELETE FROM spool WHERE seq = ?", [(seq,) for seq in seqs])
            db.execute("COMMIT")

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
                    writing = self._writer is not None and not self._writer.done()
                    if not self._pending and not writing:  # else an insert is on its way
                        self._backlog = False
                    return sent
                published, failure = await self._publish_rows(rows)
                if published:
                    await asyncio.to_thread(self._delete, published)
                    sent += len(published)
                if failure is not None:
                    log.warning("spool.drain_paused", error=repr(failure),
                                left=len(rows) - len(published))
                    return sent

    async def _publish_rows(
        self, rows: list[tuple[int, str, bytes]]
    ) -> tuple[list[int], PublishError | None]:
        """Publish rows pipelined (sent in order on one channel, confirms awaited together);
        the seqs confirmed, and the first failure if any."""
        assert self._publisher is not None
        publisher = self._publisher
        results = await asyncio.gather(
            *(publisher.publish(CloudEvent.model_validate_json(body), key)
              for _, key, body in rows),
            return_exceptions=True,
        )
        published = [seq for (seq, _, _), r in zip(rows, results, strict=True) if r is None]
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None and not isinstance(failure, PublishError):
            failure = PublishError(repr(failure))
        return published, failure

    async def run_drainer(self, interval_s: float = 1.0) -> None:
        """Drain forever (a background task of each process that spools); `drain_once`
        itself goes on while rows remain, so the interval only paces an empty or stalled
        spool."""
        while True:
            try:
                sent = await self.drain_once()
                if sent:
                    log.info("spool.drained", sent=sent)
            except Exception as exc:  # keep draining whatever happens
                log.error("spool.drainer_error", error=repr(exc))
            await asyncio.sleep(interval_s)
