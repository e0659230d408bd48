"""A real headless browser for the page's tests: Debian's chromium driven by Playwright
(which never downloads a browser of its own), and an aiohttp app served on a loopback port
in a thread.

Import the fixtures into a test module (``from tests.service.browser import
chromium_fixture  # noqa: F401``) and ask for ``chromium``. Without a chromium
(``$CHROMIUM``, /usr/bin/chromium or one on the PATH) the tests are skipped with the
reason, except under CI (environment variable CI set), where they fail: CI must run them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: The browser: $CHROMIUM, else Debian's (apt-get install chromium), else one on the PATH.
CHROMIUM = os.environ.get("CHROMIUM") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else shutil.which("chromium"))

#: Nothing leaves the machine: no sandbox (containers), no GPU, no background traffic.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run the browser tests; install Debian's chromium "
                    "(apt-get install chromium) and the test extra (playwright)")
    pytest.skip(reason)


@pytest.fixture(name="chromium", scope="module")
def chromium_fixture() -> Iterator[Any]:
    """A headless chromium (playwright Browser) for the module's tests."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM or not os.access(CHROMIUM, os.X_OK):
        _missing(f"no chromium ({CHROMIUM or '/usr/bin/chromium'} is missing)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Served:
    """An aiohttp `Application` served on 127.0.0.1 by a loop in a thread, on a free port
    (or on `port`, to come back where a closed one was): `url` is its address, `port` its
    port; `close()` stops it and closes its connections."""

    def __init__(self, app: Any, port: int = 0) -> None:
        from aiohttp import web

        self._loop = asyncio.new_event_loop()
        # a handler still running (an open websocket) is cancelled 0.5 s into close()
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready, port), daemon=True,
                                        name="page-server")
        self._thread.start()
        if not ready.wait(10.0):
            raise RuntimeError("the test server did not start in 10 s")
        host, self.port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{self.port}/"

    def _run(self, ready: threading.Event, port: int) -> None:
        from aiohttp import web

        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", port).start()

        self._loop.run_until_complete(start())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    def close(self) -> None:
        async def stop() -> None:
            try:
                await self._runner.cleanup()
            finally:
                self._loop.stop()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(stop(), self._loop)
            self._thread.join(10.0)
