"""Send the traffic to a running stack at a steady rate and record every command and answer.

Each line of the record (JSONL) is one command with what came back: the HTTP status and
body, or the error if none came (connection refused, timeout), or for a poison message
where Kafka put it. After the load, each command whose outcome is unknown is asked again
with its idempotency key (loadtest/resolution.py), and those answers are recorded too.
``cqrsw check`` reads it after a pipeline pass.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
from kafka import KafkaProducer
from kafka.errors import KafkaError

from config.settings import Settings
from loadtest.resolution import unresolved
from loadtest.traffic import POISON_KEY, Command, Traffic, poison_message
from services.tokens import BILLING, CUSTOMER, STOCK, issue_token


@dataclass
class Summary:
    """What was sent and how it was answered: counts by kind and by outcome."""

    sent: int = 0
    seconds: float = 0.0
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, outcome)
    asked_again: int = 0  # resolving retries sent after the load (not in ``sent``)
    unresolved: int = 0  # commands whose outcome the resolving retries left unknown

    def add(self, kind: str, outcome: str) -> None:
        self.sent += 1
        self.outcomes[(kind, outcome)] += 1


def outcome(record: dict[str, Any]) -> str:
    """accepted (2xx), refused (4xx), failed (5xx), unknown (no answer), or poison sent."""
    if record["kind"] == "poison":
        return "produced" if record.get("offset") is not None else "unknown"
    status = record.get("status")
    if status is None:
        return "unknown"
    return {2: "accepted", 4: "refused"}.get(status // 100, "failed")


class LoadGenerator:
    """Commands from ``traffic`` at ``rate`` per second for ``duration`` seconds."""

    def __init__(self, settings: Settings, traffic: Traffic, out: IO[str], concurrency: int = 8):
        self.settings = settings
        self.traffic = traffic
        self.out = out
        self.concurrency = concurrency
        self.summary = Summary()
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}
        self._http = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=concurrency))
        self._producer: KafkaProducer | None = None
        self.records: list[dict[str, Any]] = []  # what was written to ``out``, in that order
        self.stopping = threading.Event()  # set: send nothing more, go on to the resolving

    def run(
        self,
        rate: float,
        duration: float,
        on_sent: Callable[[int], None],
        *,
        resolve_within: float = 120.0,
    ) -> Summary:
        """Send the load; then, for up to ``resolve_within`` s, ask about unknown outcomes."""
        start = time.monotonic()
        slots = threading.BoundedSemaphore(self.concurrency * 2)
        try:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="loadgen") as pool:
                for n, command in enumerate(self.traffic):
                    due = start + n / rate
                    if due - start >= duration or self.stopping.is_set():
                        break
                    time.sleep(max(0.0, due - time.monotonic()))
                    slots.acquire()
                    future = pool.submit(self._send, command)
                    future.add_done_callback(lambda _: self._done(slots, on_sent))
            self.summary.seconds = time.monotonic() - start
            self.summary.unresolved = self.resolve(resolve_within)
        finally:
            self.summary.seconds = self.summary.seconds or time.monotonic() - start
            self._http.close()
            if self._producer is not None:
                self._producer.close(timeout=10)
        return self.summary

    def resolve(self, within: float) -> int:
        """Retry each command of unknown outcome with its key until answered; how many are left.

        Sent one at a time, after every attempt of the load was answered or gave up, so a
        resolving retry's answer is the last word on its command. While the stack is still
        recovering (503, no answer) it asks again, backing off, for up to ``within`` seconds.
        """
        deadline = time.monotonic() + within
        pause = 0.5
        # Only while the services still keep the key (with a minute to spare).
        kept = timedelta(seconds=self.settings.idempotency_window_s - 60)
        while retries := unresolved(self.records, (datetime.now(UTC) - kept).isoformat()):
            if time.monotonic() >= deadline:
                break
            for command in retries:
                if time.monotonic() >= deadline:
                    break
                self._send(command)
            if unresolved(self.records, (datetime.now(UTC) - kept).isoformat()):
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, 10.0)
        return len(unresolved(self.records))

    @staticmethod
    def _done(slots: threading.BoundedSemaphore, on_sent: Callable[[int], None]) -> None:
        slots.release()
        on_sent(1)

    def _send(self, command: Command) -> None:
        record: dict[str, Any] = {**command.as_json(), "sent_at": _now()}
        began = time.perf_counter()
        try:
            if command.kind == "poison":
                record.update(self._produce(command))
            else:
                record.update(self._post(command))
        except (httpx.HTTPError, KafkaError, OSError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["elapsed_ms"] = round((time.perf_counter() - began) * 1000, 2)
        record["answered_at"] = _now()
        with self._lock:
            self.out.write(json.dumps(record) + "\n")
            self.records.append(record)
            if command.resolves:
                self.summary.asked_again += 1
            else:
                self.summary.add(command.kind, outcome(record))

    def _post(self, command: Command) -> dict[str, Any]:
        port = getattr(self.settings, f"{command.service}_port")
        headers = {"Authorization": f"Bearer {self._token(command.user)}"}
        headers["X-Request-Id"] = command.id
        if command.idempotency_key:
            headers["Idempotency-Key"] = command.idempotency_key
        url = f"http://127.0.0.1:{port}{command.path}"
        response = self._http.post(url, json=command.body, headers=headers)
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:500]
        return {"status": response.status_code, "response": body}

    def _produce(self, command: Command) -> dict[str, Any]:
        with self._lock:
            if self._producer is None:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.settings.bootstrap_servers, acks="all", retries=3
                )
            producer = self._producer
        value = poison_message(command)
        meta = producer.send(command.path, key=POISON_KEY, value=value).get(timeout=15)
        if meta.offset < 0:
            # Tansu restarted empty acks an old producer's send without an offset and does
            # not keep the message: an unknown outcome; the next send gets a new producer.
            with self._lock:
                self._producer = None
            producer.close(timeout=1)
            return {"error": "the broker acknowledged without an offset"}
        return {"topic": meta.topic, "partition": meta.partition, "offset": meta.offset}

    def _token(self, user: str) -> str:
        with self._lock:
            if user not in self._tokens:
                # One token per user for every kind of command the traffic sends as them.
                roles = (CUSTOMER, BILLING, STOCK)
                self._tokens[user] = issue_token(self.settings, user, roles=roles, ttl_s=86400)
            return self._tokens[user]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def read_record(path: Path) -> list[dict[str, Any]]:
    """The commands a load run recorded, in the order their answers came."""
    with path.open() as lines:
        return [json.loads(line) for line in lines if line.strip()]
