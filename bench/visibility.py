"""When each accepted command first shows in the read API, watched through its position token.

The read API is polled for ``/freshness`` only; when a new publication shows, every command
still pending is asked about once (``X-Position-Token`` -> ``X-Position-Included``). A command
found included is dated at the poll that first saw that publication, unless another
publication landed while the commands were being asked about: then at its answer, later
rather than earlier.
"""

from __future__ import annotations

import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from config.settings import Settings
from services.tokens import ANALYST, issue_token

ORDER_KINDS = ("create_order", "cancel_order", "issue_invoice")
STOCK_KINDS = ("stock_increase", "stock_decrease")


@dataclass
class Pending:
    """An accepted command whose write is not in the served views yet."""

    kind: str
    user: str
    token: str
    answered_at: datetime


class Answers(io.StringIO):
    """The load generator's record, kept in memory: each answer is handed to ``watcher``."""

    def __init__(self, watcher: Visibility):
        super().__init__()
        self.watcher = watcher
        self.commands = 0

    def write(self, line: str) -> int:
        record = json.loads(line)
        self.commands += 1
        self.watcher.add(record)
        return len(line)


class Visibility:
    """Follows commands until the read API serves them; ``seconds`` holds each one's freshness."""

    def __init__(self, settings: Settings, *, sample_every: int = 1, poll_s: float = 0.25):
        self.base = f"http://127.0.0.1:{settings.read_api_port}"
        token = issue_token(settings, "freshness-bench", roles=(ANALYST,), ttl_s=86400)
        self.http = httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        self.sample_every = sample_every
        self.poll_s = poll_s
        self.pending: dict[str, Pending] = {}
        self.seconds: list[float] = []
        self.accepted = 0
        self.publications = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="visibility", daemon=True)

    def add(self, record: dict[str, Any]) -> None:
        if record.get("status") not in (200, 201) or record["kind"] not in (
            *ORDER_KINDS,
            *STOCK_KINDS,
        ):
            return
        token = record["response"].get("position_token")
        if not token:
            return
        with self._lock:
            self.accepted += 1
            if self.accepted % self.sample_every:
                return
            answered = datetime.fromisoformat(record["answered_at"])
            self.pending[record["id"]] = Pending(record["kind"], record["user"], token, answered)

    def start(self) -> None:
        self._thread.start()

    def wait_drained(self, timeout: float) -> bool:
        """Until every command seen so far is served (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self.pending:
                    return True
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.http.close()

    def _publication(self) -> tuple[str, ...] | None:
        try:
            answer = self.http.get("/freshness")
        except httpx.HTTPError:
            return None
        if answer.status_code != 200:
            return None
        return tuple(view["publishedAt"] for view in answer.json())

    def _watch(self) -> None:
        seen: tuple[str, ...] | None = None
        with ThreadPoolExecutor(4, thread_name_prefix="visibility") as pool:
            while not self._stop.wait(self.poll_s):
                now = self._publication()
                if now is None or now == seen:
                    continue
                seen_at = datetime.now(UTC)
                seen = now
                self.publications += 1
                with self._lock:
                    batch = list(self.pending.items())
                found = [f for f in pool.map(self._included, batch) if f is not None]
                moved = self._publication() != now
                with self._lock:
                    for command_id, answered_at in found:
                        waiting = self.pending.pop(command_id)
                        at = answered_at if moved else seen_at
                        self.seconds.append(max(0.0, (at - waiting.answered_at).total_seconds()))

    def _included(self, item: tuple[str, Pending]) -> tuple[str, datetime] | None:
        command_id, waiting = item
        if waiting.kind in ORDER_KINDS:
            path, params = "/orders-with-invoices", {"userId": waiting.user, "limit": "1"}
        else:
            path, params = "/products", {"limit": "1"}
        try:
            answer = self.http.get(path, params=params, headers={"X-Position-Token": waiting.token})
        except httpx.HTTPError:
            return None
        if answer.headers.get("X-Position-Included") == "true":
            return command_id, datetime.now(UTC)
        return None
