"""Screenshot a page of the running stack with headless Chromium (used for docs/screenshots).

    python docs/screenshots/capture.py URL OUT.png [--airflow-login http://localhost:8080]
        [--click "Expand all task groups"]

With --airflow-login the Airflow UI's login (user admin, CQRSW_AIRFLOW_ADMIN_PASSWORD or
admin) is done first, by setting the cookie the login page would set. Requests to other
hosts are blocked, except the CDN files of Great Expectations' Data Docs, which --assets
serves from `npm pack`ed copies (see CDN_PACKAGES), so the page looks as it does online.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import websockets

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
]


# Click the first button whose aria-label is LABEL; say whether there was one.
CLICK = """(() => {
  const button = [...document.querySelectorAll('button')]
    .find(b => b.getAttribute('aria-label') === LABEL);
  if (button) { button.click(); }
  return Boolean(button);
})()"""


class Page:
    """A Chromium tab over the DevTools protocol; serves paused requests from ``assets``."""

    def __init__(self, socket: Any, assets: Path | None):
        self.socket = socket
        self.assets = assets
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.serving: set[asyncio.Task[None]] = set()
        self.reader = asyncio.create_task(self._read())

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        answer = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = answer
        await self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        return await answer

    async def _read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if "id" in message and message["id"] in self.waiting:
                answer = self.waiting.pop(message["id"])
                if "error" in message:
                    answer.set_exception(RuntimeError(str(message["error"])))
                else:
                    answer.set_result(message.get("result", {}))
            elif message.get("method") == "Fetch.requestPaused":
                task = asyncio.create_task(self._serve(message["params"]))
                self.serving.add(task)
                task.add_done_callback(self.serving.discard)

    async def _serve(self, paused: dict[str, Any]) -> None:
        url = paused["request"]["url"]
        if urlsplit(url).hostname in ("localhost", "127.0.0.1"):  # the stack itself
            await self.call("Fetch.continueRequest", requestId=paused["requestId"])
            return
        local = cdn_copy(url, self.assets) if self.assets else None
        if local is None or not local.is_file():  # nothing leaves the machine
            await self.call("Fetch.failRequest", requestId=paused["requestId"],
                            errorReason="BlockedByClient")  # fmt: skip
            return
        kind = CONTENT_TYPES.get(local.suffix, "application/octet-stream")
        await self.call(
            "Fetch.fulfillRequest",
            requestId=paused["requestId"],
            responseCode=200,
            responseHeaders=[
                {"name": "Content-Type", "value": kind},
                {"name": "Access-Control-Allow-Origin", "value": "*"},  # fonts need CORS
            ],
            body=base64.b64encode(local.read_bytes()).decode(),
        )


# Where Great Expectations' Data Docs load their styles and scripts from, and which npm
# package (unpacked as <name>-<version>/package under --assets) holds the same files.
CDN_PACKAGES = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/": "bootstrap-4.3.1/package/dist/",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/": "bootstrap-4.3.1/package/dist/",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/package/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/": "popper.js-1.12.9/package/dist/",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/": (
        "bootstrap-datepicker-1.9.0/package/dist/"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/": "bootstrap-table-1.19.1/package/",
    "https://unpkg.com/bootstrap-table@1.19.0/": "bootstrap-table-1.19.1/package/",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/": (
        "forevolve-bootstrap-dark-1.1.0/package/"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/": (
        "fortawesome-fontawesome-free-6.6.0/package/"
    ),
}
CONTENT_TYPES = {".css": "text/css", ".js": "application/javascript", ".woff2": "font/woff2"}


def cdn_copy(url: str, assets: Path) -> Path | None:
    for prefix, local in CDN_PACKAGES.items():
        if url.startswith(prefix):
            return assets / (local + url.removeprefix(prefix))
    return None


def airflow_token(base: str) -> str:
    password = os.environ.get("CQRSW_AIRFLOW_ADMIN_PASSWORD", "admin")
    answer = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password})
    token: str = answer.raise_for_status().json()["access_token"]
    return token


async def capture(
    url: str,
    out: Path,
    *,
    width: int,
    height: int,
    settle: float,
    login: str | None,
    clicks: list[str],
    assets: Path | None,
) -> None:
    port = 9333
    profile = tempfile.mkdtemp(prefix="cqrsw-chromium-")
    chromium = shutil.which("chromium") or "chromium"
    proc = subprocess.Popen(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
         f"--remote-debugging-port={port}", f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json").json()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)
        ws_url = next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"]
        async with websockets.connect(ws_url, max_size=64 * 1024 * 1024) as socket:
            page = Page(socket, assets)
            await page.call("Page.enable")
            await page.call("Fetch.enable", patterns=[{"urlPattern": "http*"}])
            await page.call(
                "Emulation.setDeviceMetricsOverride",
                width=width, height=height, deviceScaleFactor=1, mobile=False,
            )  # fmt: skip
            if login:
                await page.call(
                    "Network.setCookie", name="_token", value=airflow_token(login), url=login
                )
            await page.call("Page.navigate", url=url)
            await asyncio.sleep(settle)  # single-page apps keep loading after the load event
            for label in clicks:
                found = await page.call(
                    "Runtime.evaluate",
                    expression=CLICK.replace("LABEL", json.dumps(label)),
                    returnByValue=True,
                )
                if not found["result"].get("value"):
                    page.reader.cancel()
                    raise SystemExit(f"no button labelled {label!r} on {url}")
                await asyncio.sleep(2)
            shot = await page.call("Page.captureScreenshot", format="png")
            page.reader.cancel()
        out.write_bytes(base64.b64decode(shot["data"]))
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--settle", type=float, default=8.0)
    parser.add_argument("--airflow-login", metavar="BASE_URL")
    parser.add_argument("--click", action="append", default=[], metavar="ARIA_LABEL")
    parser.add_argument(
        "--assets", type=Path, help="unpacked npm packages that stand in for the CDNs"
    )
    args = parser.parse_args()
    asyncio.run(
        capture(
            args.url,
            args.out,
            width=args.width,
            height=args.height,
            settle=args.settle,
            login=args.airflow_login,
            clicks=args.click,
            assets=args.assets,
        )
    )
    print(args.out)


if __name__ == "__main__":
    main()
