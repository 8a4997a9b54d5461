"""Which event loop a process runs on (LINKGATE_EVENT_LOOP)."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest
import uvloop

from gateway.processes.eventloop import EventLoopUnavailable, loop_factory, resolve
from gateway.settings import load_settings


def test_default_is_auto_and_auto_means_uvloop_where_installed() -> None:
    assert load_settings().event_loop == "auto"
    assert resolve("auto") == "uvloop"
    loop = loop_factory("auto")()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_asyncio_is_the_stock_loop() -> None:
    loop = loop_factory("asyncio")()
    try:
        assert not isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()


def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "uvloop" else real(n, *a)
    )
    assert resolve("auto") == "asyncio"
    with pytest.raises(EventLoopUnavailable, match="LINKGATE_EVENT_LOOP=uvloop"):
        resolve("uvloop")


def test_a_bad_choice_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.settings import SettingsError

    monkeypatch.setenv("LINKGATE_EVENT_LOOP", "trio")
    with pytest.raises(SettingsError, match="LINKGATE_EVENT_LOOP"):
        load_settings()
