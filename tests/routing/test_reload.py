"""Hot reload: a valid change swaps whole; an invalid one is refused, the old rules stay."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.routing.engine import AlertFacts
from gateway.routing.reload import RulesHolder
from gateway.routing.rules import RulesError

RULES = """\
version: 1
rules:
  - id: lamp
    priority: 10
    destination: "12345"
    category: svc
    emergency: false
    when:
      any: [{phrase}]
"""


def _write(path: Path, text: str, bump: int) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def test_valid_change_swaps_atomically(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    _write(path, RULES.format(phrase="路灯"), 0)
    holder = RulesHolder(path)
    old = holder.engine
    assert holder.engine.classify(AlertFacts(text="路灯")).rule == "lamp"
    _write(path, RULES.format(phrase="垃圾"), 1)
    assert holder.check() is True
    assert holder.engine is not old and holder.reloads == 1
    assert holder.engine.classify(AlertFacts(text="路灯")).rule == "default"
    assert holder.engine.classify(AlertFacts(text="垃圾")).rule == "lamp"
    assert holder.check() is False  # unchanged file: nothing to do


def test_invalid_change_refused_with_line_old_rules_stay(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    _write(path, RULES.format(phrase="路灯"), 0)
    holder = RulesHolder(path)
    old = holder.engine
    _write(path, RULES.format(phrase="路灯").replace('"12345"', "nowhere"), 1)
    assert holder.check() is False
    assert holder.engine is old
    assert holder.last_error is not None and f"{path}:5" in holder.last_error
    # fixed again: accepted, error cleared
    _write(path, RULES.format(phrase="垃圾"), 2)
    assert holder.check() is True and holder.last_error is None


def test_missing_file_keeps_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    _write(path, RULES.format(phrase="路灯"), 0)
    holder = RulesHolder(path)
    path.unlink()
    assert holder.check() is False
    assert holder.engine.classify(AlertFacts(text="路灯")).rule == "lamp"
    assert holder.last_error is not None and "missing" in holder.last_error


def test_bad_file_at_start_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules: [", encoding="utf-8")
    with pytest.raises(RulesError, match=r"rules\.yaml"):
        RulesHolder(path)
