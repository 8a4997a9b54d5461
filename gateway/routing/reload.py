"""Hot reload of the rules file: validate the new file whole, then swap atomically.

A routing process keeps one `RulesHolder`; every classification reads `holder.engine`
once (a single attribute read, so a swap never shows half a rule set). A changed file
that fails validation is refused with its error (file and line) and the old rules stay
in force: a typo in an edit must never stop routing.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import structlog

from gateway.routing.engine import RuleEngine
from gateway.routing.rules import DEFAULT_RULES_FILE, RulesError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _Stamp:
    mtime_ns: int
    size: int


def _stamp(path: Path) -> _Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _Stamp(st.st_mtime_ns, st.st_size)


class RulesHolder:
    """The rules in force, reloaded when the file changes (mtime/size polling)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or DEFAULT_RULES_FILE
        self._stamp = _stamp(self.path)
        self.engine: RuleEngine = RuleEngine.from_file(self.path)  # fails loudly at start
        self.last_error: str | None = None
        self.reloads = 0

    def check(self) -> bool:
        """Reload if the file changed; True if new rules are now in force."""
        stamp = _stamp(self.path)
        if stamp is None:
            if self.last_error is None:
                self.last_error = f"{self.path}: file missing; keeping the rules in force"
                log.error("rules.reload_failed", error=self.last_error)
            return False
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            engine = RuleEngine.from_file(self.path)
        except RulesError as exc:
            self.last_error = str(exc)
            log.error("rules.reload_refused", error=str(exc), kept=self.engine.digest)
            return False
        if engine.digest == self.engine.digest:
            self.last_error = None
            return False
        self.engine = engine
        self.last_error = None
        self.reloads += 1
        log.info(
            "rules.reloaded", digest=engine.digest, rules=engine.rule_count,
            phrases=engine.phrase_count,
        )
        return True

    async def watch(self, interval_s: float = 2.0) -> None:
        """Poll the file until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(self.check)
            except Exception as exc:  # a bug here must be visible, not stop the watcher
                log.exception("rules.watch_failed", error=repr(exc))
