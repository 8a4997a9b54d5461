"""ASGI entry point for uvicorn workers (`linkgate api`)."""

from __future__ import annotations

from gateway.api.app import create_app
from gateway.settings import get_settings

app = create_app(get_settings())
