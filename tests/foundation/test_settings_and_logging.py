"""Settings refuse bad values clearly; logs mask phone numbers and secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from gateway.logging import configure_logging, mask_phone
from gateway.settings import SettingsError, load_settings


def test_defaults_follow_contract_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LINKGATE_AMQP_URL", "LINKGATE_REDIS_URL", "LINKGATE_HTTP_PORT"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.amqp_url == "amqp://guest:guest@localhost:5672/"
    assert s.redis_url == "redis://localhost:6379/0"
    assert (s.http_host, s.http_port) == ("127.0.0.1", 8080)
    assert s.exchange == "linkage.events" and s.dead_letter_exchange == "linkage.dlx"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKGATE_HTTP_PORT", "9090")
    monkeypatch.setenv("LINKGATE_API_KEYS", '{"k1": ["orders:write"]}')
    s = load_settings()
    assert s.http_port == 9090 and s.api_keys == {"k1": ["orders:write"]}


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("LINKGATE_HTTP_PORT", "eighty", "LINKGATE_HTTP_PORT"),
        ("LINKGATE_AMQP_URL", "http://broker", "LINKGATE_AMQP_URL"),
        ("LINKGATE_WECHAT_AES_KEY", "short", "43 characters"),
        ("LINKGATE_REDIS_URL", "memcached://x", "LINKGATE_REDIS_URL"),
    ],
)
def test_bad_values_fail_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert needle in str(exc.value)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("caller +8613800138000 dialled", "caller +86138****8000 dialled"),
        ("13800138000", "138****8000"),
        ("landline 05782123456", "landline 0578****3456"),
        ("duty room +8657812345001", "duty room +86578****5001"),
        ("+14155552671", "+14155****2671"),
        ("order K7QF at 20:15", "order K7QF at 20:15"),
        ("timestamp=1795443950&nonce=1", "timestamp=1795443950&nonce=1"),
    ],
)
def test_mask_phone(text: str, masked: str) -> None:
    assert mask_phone(text) == masked


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    logging.basicConfig(force=True, handlers=[logging.NullHandler()])


def test_logs_are_json_with_phones_masked_and_secrets_hidden(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("INFO", json_logs=True)
    structlog.get_logger("t").info("sms.received", sender="+8613800138000", auth_token="s3cr3t")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["sender"] == "+86138****8000"
    assert record["auth_token"] == "***"
    assert "s3cr3t" not in line and "13800138000" not in line


def test_stdlib_logs_are_json_and_masked_too(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("INFO", json_logs=True)
    logging.getLogger("linkgate.ami").warning("duty phone %s busy", "+8657812345001")
    record = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert record["event"] == "duty phone +86578****5001 busy"
    assert record["level"] == "warning" and record["logger"] == "linkgate.ami"


def test_console_logs_render_tracebacks_plainly(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    """Console mode prints a plain traceback, not rich's framed one with every frame's
    locals: during a broker outage hundreds are logged from the event loop, and rich's
    rendering stalled the webhooks for seconds (the broker-restart chaos test)."""
    configure_logging("INFO", json_logs=False)
    secret_local = "+8613800138000"  # rich would print this frame's locals
    try:
        raise RuntimeError("channel closed")
    except RuntimeError:
        logging.getLogger("linkgate.test.tracebacks").exception("callback error: %s", secret_local)
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: channel closed" in err
    assert "╭" not in err and "│" not in err  # no rich panel
    assert "13800138000" not in err.split("Traceback")[0]
