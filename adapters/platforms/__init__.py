"""Adapters for the centres' platforms (110 command centre, 12345, sea centres): HTTP."""

from adapters.platforms.centre import ALERTS_PATH, CentreAdapter, CentreConfig
from adapters.platforms.client import (
    CircuitBreaker,
    CircuitOpen,
    PlatformClient,
    PlatformError,
    PlatformRejected,
    PlatformUnavailable,
    RetryPolicy,
)

__all__ = [
    "ALERTS_PATH",
    "CentreAdapter",
    "CentreConfig",
    "CircuitBreaker",
    "CircuitOpen",
    "PlatformClient",
    "PlatformError",
    "PlatformRejected",
    "PlatformUnavailable",
    "RetryPolicy",
]
