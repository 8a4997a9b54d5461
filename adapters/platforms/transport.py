"""The wire under the centres' HTTP client: aiohttp, behind httpx's API.

The router posts every alert to a centre with up to `prefetch` (64) deliveries in flight.
httpx's own connection pool (httpcore) costs 1.5 ms of CPU per POST alone and over 3 ms
at 64 concurrent requests, more than everything else the router does per alert; aiohttp's
connector does the same POST for about a fifth of that (docs/benchmarks.md). The client
keeps httpx's API (requests, responses, timeouts, the errors `PlatformClient` sorts into
"timeout" and "unreachable"); `httpx-aiohttp` carries the requests over aiohttp. Tests
mock at the httpx client (`respx.mock(using="httpx")`), which any transport goes through.
"""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


class CentreTransport(AiohttpTransport):
    """`AiohttpTransport` with aiohttp's errors sorted as httpx's own transport sorts them.

    httpx-aiohttp maps every `aiohttp.ClientConnectionError` (connection refused, reset,
    server disconnected) to `httpx.ConnectTimeout`, and lets a bare `TimeoutError` through:
    a refused connection is not a timeout, and a timeout must be an httpx one.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.TimeoutException as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientError) and not isinstance(cause, TimeoutError):
                raise httpx.ConnectError(str(cause) or repr(cause), request=request) from cause
            raise
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except aiohttp.ClientError as exc:  # anything the library left unmapped
            raise httpx.TransportError(str(exc) or repr(exc), request=request) from exc
