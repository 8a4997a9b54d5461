"""Fixtures for call orchestration tests (real Redis and RabbitMQ; see support.py)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from gateway.directory.store import DirectoryStore
from gateway.settings import Settings

from .support import Clock, make_unit


@pytest.fixture
def call_settings(settings: Settings) -> Settings:
    """Test settings; dial strings are `PJSIP/<e164>` so scripts can name them."""
    return settings.model_copy(update={"dial_template": "PJSIP/{e164}"})


@pytest.fixture
async def directory(redis: Redis, call_settings: Settings) -> DirectoryStore:
    store = DirectoryStore(redis, call_settings)
    await store.put_unit(make_unit(), by="test")
    return store


@pytest.fixture
def clock() -> Clock:
    return Clock()
