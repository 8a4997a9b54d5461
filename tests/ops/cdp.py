"""A minimal Chrome DevTools Protocol driver for headless Chromium (aiohttp websockets).

Enough to load a page, evaluate JavaScript, wait for a condition and take a screenshot;
aiohttp is already installed (twilio depends on it), so no browser package is needed.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
from pathlib import Path
from typing import Any

import aiohttp

_LISTENING = re.compile(rb"DevTools listening on (ws://[^\s]+)")


class Chromium:
    """One headless Chromium process and a CDP session on its first page."""

    def __init__(self, executable: str, profile_dir: Path, width: int = 1400, height: int = 900):
        self._executable = executable
        self._profile = profile_dir
        self._size = (width, height)
        self._proc: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> Chromium:
        width, height = self._size
        self._proc = await asyncio.create_subprocess_exec(
            self._executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={self._profile}",
            f"--window-size={width},{height}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._proc.stderr is not None
        async with asyncio.timeout(20):
            while True:
                line = await self._proc.stderr.readline()
                if not line:
                    raise RuntimeError("chromium exited before DevTools listened")
                match = _LISTENING.search(line)
                if match:
                    break
        browser_ws = match.group(1).decode()
        port = browser_ws.split(":")[2].split("/")[0]
        self._http = aiohttp.ClientSession()
        async with self._http.get(f"http://127.0.0.1:{port}/json/list") as r:
            targets = await r.json()
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = await self._http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a CDP method and return its result (events in between are skipped)."""
        assert self._ws is not None
        msg_id = next(self._ids)
        await self._ws.send_json({"id": msg_id, "method": method, "params": params})
        async with asyncio.timeout(20):
            while True:
                reply = await self._ws.receive_json()
                if reply.get("id") == msg_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    result: dict[str, Any] = reply.get("result", {})
                    return result

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JS error: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_until(self, expression: str, timeout: float = 10.0) -> None:
        """Poll a JavaScript expression until it is truthy."""
        async with asyncio.timeout(timeout):
            while not await self.evaluate(f"Boolean({expression})"):
                await asyncio.sleep(0.1)

    async def screenshot(self, path: Path) -> bytes:
        result = await self.send("Page.captureScreenshot", format="png")
        data = base64.b64decode(result["data"])
        await asyncio.to_thread(path.write_bytes, data)
        return data
