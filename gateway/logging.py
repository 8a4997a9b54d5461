"""Structured JSON logs with phone numbers masked and secrets never printed."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Any E.164 number (+ and 8-15 digits), or a bare national mobile / landline: keep the
# country and leading digits and the last four, enough to tell calls apart, not to dial.
_E164 = re.compile(r"(?<![\d+])\+(\d{5})\d{2,6}(\d{4})(?!\d)")
_NATIONAL = re.compile(r"(?<![\d+])(?:(1[3-9]\d)\d{4}|(0\d{2,3})\d{3,4})(\d{4})(?!\d)")
_SECRET_KEYS = ("secret", "token", "password", "aes_key", "api_key", "authorization", "signature")


def mask_phone(text: str) -> str:
    """`+8613800138000` → `+86138****8000`: enough to tell calls apart, not to dial."""
    text = _E164.sub(lambda m: f"+{m.group(1)}****{m.group(2)}", text)
    return _NATIONAL.sub(lambda m: f"{m.group(1) or m.group(2)}****{m.group(3)}", text)


def _mask_processor(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if any(s in key.lower() for s in _SECRET_KEYS):
            event_dict[key] = "***"
        elif isinstance(value, str):
            event_dict[key] = mask_phone(value)
    return event_dict


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    """One JSON object per line on stderr, for structlog and stdlib loggers alike.

    Stdlib records (aio-pika, uvicorn, our AMI client) go through the same processors,
    so they are JSON too and phone numbers in them are masked.
    """
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json_logs
        # plain tracebacks: rich's (with every frame's locals) take tens of ms each, and
        # a broker outage logs hundreds of them from the event loop, stalling webhooks
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, _message_masker],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _mask_processor,
                renderer,
            ],
        )
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            _mask_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def _message_masker(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Stdlib messages arrive pre-formatted in `event`; mask numbers there too."""
    event = event_dict.get("event")
    if isinstance(event, str):
        event_dict["event"] = mask_phone(event)
    return event_dict
