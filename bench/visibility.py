"""When each accepted command first shows in the read API: its row in an answer's body.

The read API is polled for ``/freshness`` only; when a new publication shows, the rows of
every command still pending are read once, as a reader would (no position token): a created
order's row in its user's ``/orders-with-invoices``, a cancelled one with status
``cancelled``, an invoice's URL on its order's row (or a later invoice's of the same order,
which replaces it), a stock operation's version (or a later one) in
``/products/{id}/stock``. A command found is dated at the poll that first saw that
publication, unless another publication landed while the rows were being read: then at its
answer, later rather than earlier. An invoice issued before its order was accepted is not
followed (its row appears only with the order's); ``unfollowed`` counts those.
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
    answered_at: datetime
    subject: str  # the order id, or the product id
    expect: str | int  # the invoice URL, or the stock version; unused for the other kinds

    @property
    def source(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """The read that shows this command's row: (path, query parameters)."""
        if self.kind in ORDER_KINDS:
            return "/orders-with-invoices", (("userId", self.user), ("limit", "1000"))
        return f"/products/{self.subject}/stock", ()


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
    """Follows commands until the read API serves their rows; ``seconds`` holds each one's
    freshness."""

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
        self.by_kind: dict[str, list[float]] = {}
        self.shown: list[tuple[datetime, int, float]] = []  # per publication: when, how many, worst
        self.accepted = 0
        self.unfollowed = 0
        self.publications = 0
        self.orders: set[str] = set()  # accepted create_order commands
        self.invoices: dict[str, list[str]] = {}  # order id -> its invoices' URLs, in order
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="visibility", daemon=True)

    def add(self, record: dict[str, Any]) -> None:
        if record.get("status") not in (200, 201) or record["kind"] not in (
            *ORDER_KINDS,
            *STOCK_KINDS,
        ):
            return
        kind, answer = record["kind"], record["response"]
        if not isinstance(answer, dict):
            return
        subject = str(answer.get("order_id") or answer.get("product_id") or "")
        expect: str | int = answer.get("invoice_url") or answer.get("version") or 0
        with self._lock:
            if kind == "create_order":
                self.orders.add(subject)
            elif kind == "issue_invoice":
                self.invoices.setdefault(subject, []).append(str(expect))
                if subject not in self.orders:
                    self.unfollowed += 1
                    return
            self.accepted += 1
            if self.accepted % self.sample_every:
                return
            answered = datetime.fromisoformat(record["answered_at"])
            self.pending[record["id"]] = Pending(kind, record["user"], answered, subject, expect)

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
                reads = {item.source for _, item in batch}
                bodies = dict(zip(reads, pool.map(self._read, reads), strict=True))
                moved = self._publication() != now
                found: list[float] = []
                with self._lock:
                    for command_id, waiting in batch:
                        body, answered_at = bodies[waiting.source]
                        if body is None or not self._shows(waiting, body):
                            continue
                        self.pending.pop(command_id, None)
                        at = answered_at if moved else seen_at
                        waited = max(0.0, (at - waiting.answered_at).total_seconds())
                        self.seconds.append(waited)
                        self.by_kind.setdefault(waiting.kind, []).append(waited)
                        found.append(waited)
                    self.shown.append((seen_at, len(found), max(found, default=0.0)))

    def _read(self, source: tuple[str, tuple[tuple[str, str], ...]]) -> tuple[Any, datetime]:
        """The body of one read (None if it failed or found nothing), and when it came."""
        path, params = source
        try:
            answer = self.http.get(path, params=dict(params))
        except httpx.HTTPError:
            return None, datetime.now(UTC)
        return (answer.json() if answer.status_code == 200 else None), datetime.now(UTC)

    def _shows(self, waiting: Pending, body: Any) -> bool:
        """Whether ``body`` holds the row ``waiting`` made."""
        if waiting.kind in STOCK_KINDS:
            return isinstance(body, dict) and int(body.get("version", 0)) >= int(waiting.expect)
        row = next((r for r in body if r.get("orderId") == waiting.subject), None)
        if row is None:
            return False
        if waiting.kind == "cancel_order":
            return bool(row.get("status") == "cancelled")
        if waiting.kind == "issue_invoice":
            issued = self.invoices.get(waiting.subject, [])
            later = issued[issued.index(str(waiting.expect)) :] if waiting.expect in issued else []
            return row.get("invoiceUrl") in later
        return True
