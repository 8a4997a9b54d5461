"""Fixtures of the chaos tests: test-owned RabbitMQ and Redis, the centres, the intake.

Only services started here are ever broken. The shared broker (5672) and Redis (6379)
are used only through fresh vhosts / key prefixes, and never stopped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.chaos.services import ChaosRabbit, ChaosRedis, Receiver

pytestmark = pytest.mark.chaos

N_ALERTS = int(os.environ.get("LINKGATE_CHAOS_ALERTS", "1000"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/chaos/" in str(item.fspath):
            item.add_marker(pytest.mark.chaos)


@pytest.fixture(scope="session")
def chaos_rabbit() -> Iterator[ChaosRabbit]:
    """A private RabbitMQ node for the whole session (about 6 s to start)."""
    if shutil.which("rabbitmq-server") is None:
        pytest.skip("rabbitmq-server is not installed")
    node = ChaosRabbit()
    try:
        node.start()
        yield node
    finally:
        node.stop()


@pytest.fixture
def chaos_redis() -> Iterator[ChaosRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = ChaosRedis()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    centre = Receiver()
    await centre.start()
    try:
        yield centre
    finally:
        await centre.stop()


@pytest.fixture
def n_alerts() -> int:
    return N_ALERTS


@pytest.fixture(autouse=True)
def _quiet_logs() -> Iterator[None]:
    """Thousands of alerts: keep only warnings and errors in the captured output."""
    import logging

    import structlog

    from gateway.logging import configure_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("WARNING", json_logs=False)
    logging.getLogger("aio_pika").setLevel(logging.CRITICAL)
    logging.getLogger("aiormq").setLevel(logging.CRITICAL)
    yield
    structlog.reset_defaults()
    root.handlers[:], root.level = saved[0], saved[1]
