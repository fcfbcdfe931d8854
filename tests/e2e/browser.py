"""A real headless browser for the console's tests: Debian's Chromium, driven over the Chrome DevTools Protocol.

Why the DevTools protocol and not Selenium: Selenium needs chromedriver *and* its own dependency tree
(trio, trio-websocket, certifi at a recent release, urllib3, ...), and by default it downloads drivers with
Selenium Manager.  The protocol is what chromedriver itself speaks to Chromium: one WebSocket of JSON
messages.  aiohttp (already a pinned dependency of steadystate) is the WebSocket client, so the tests add no
dependency and nothing is downloaded.

:class:`Browser` starts ``chromium --headless`` with ``--remote-debugging-port=0`` and a private profile
directory, reads the port Chromium chose from ``<profile>/DevToolsActivePort``, attaches to the page target and
offers the few commands the tests need: ``navigate``, ``evaluate`` (a JavaScript expression's JSON value),
``wait_for`` (until an expression is truthy) and ``screenshot`` (PNG bytes).  Synchronous calls over a private
event loop, so pytest tests stay plain functions.

Chromium missing is an error, never a skip: CI installs it (``scripts/test.sh``: ``apt-get install chromium``).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Chromium is not installed: the console's browser tests need it "
                       "(Debian: apt-get install -y chromium; scripts/test.sh installs it)")


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self.width, self.height = width, height
        self.profile = Path(tempfile.mkdtemp(prefix="steadystate-chromium-"))
        self.loop = asyncio.new_event_loop()
        self.process: subprocess.Popen[bytes] | None = None
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.ids = itertools.count(1)

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 60.0) -> Browser:
        self.process = subprocess.Popen(
            [chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
             f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=open(self.profile / "chromium.log", "wb"),
        )
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (active.exists() and active.read_text().count("\n") >= 1):
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited ({self.process.returncode}): "
                                   f"{(self.profile / 'chromium.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise BrowserError("chromium did not open its DevTools port")
            time.sleep(0.05)
        port = int(active.read_text().splitlines()[0])
        self.loop.run_until_complete(self._attach(port, deadline))
        return self

    async def _attach(self, port: int, deadline: float) -> None:
        self.session = aiohttp.ClientSession()
        targets: list[dict[str, Any]] = []
        while not targets:
            async with self.session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = [t for t in await response.json() if t.get("type") == "page"]
            if not targets:
                if time.monotonic() > deadline:
                    raise BrowserError("chromium has no page target")
                await asyncio.sleep(0.05)
        self.ws = await self.session.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=0)
        await self._call("Page.enable")
        await self._call("Runtime.enable")
        await self._call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                         deviceScaleFactor=1, mobile=False)

    def close(self) -> None:
        try:
            if self.ws is not None:
                self.loop.run_until_complete(self.ws.close())
            if self.session is not None:
                self.loop.run_until_complete(self.session.close())
        finally:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.loop.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the protocol

    async def _call(self, method: str, **params: Any) -> dict[str, Any]:
        assert self.ws is not None
        call_id = next(self.ids)
        await self.ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:  # events arrive in between: skip them
            message = await self.ws.receive(timeout=60)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise BrowserError(f"the DevTools connection closed ({message.type})")
            data = json.loads(message.data)
            if data.get("id") == call_id:
                if "error" in data:
                    raise BrowserError(f"{method}: {data['error']}")
                return dict(data.get("result", {}))

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self.loop.run_until_complete(self._call(method, **params))

    # ------------------------------------------------------------------ what the tests use

    def authenticate(self, user: str, password: str) -> None:
        """Send HTTP Basic credentials with every request from now on, as a browser does once its user has
        answered the console's 401 challenge."""
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.call("Network.enable")
        self.call("Network.setExtraHTTPHeaders", headers={"Authorization": f"Basic {token}"})

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (JSON-serializable values only)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('exception', result)}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll until the expression is truthy; return its value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"not true within {timeout} s: {expression} (last value {value!r})")

    def screenshot(self, path: Path | None = None, full_page: bool = True) -> bytes:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            height = int(self.evaluate("document.documentElement.scrollHeight"))
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": max(height, 200), "scale": 1}
            params["captureBeyondViewport"] = True
        png = base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png)
        return png


def screenshot_dir() -> Path | None:
    """Where the test writes the README's screenshots: ``$STEADYSTATE_SCREENSHOTS`` if set (the committed ones
    are in docs/console/, made with ``STEADYSTATE_SCREENSHOTS=docs/console``), else nowhere."""
    value = os.environ.get("STEADYSTATE_SCREENSHOTS")
    return Path(value) if value else None
