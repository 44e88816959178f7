"""Faults the fault suite injects into a running stack, each reporting what it did."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.settings import Settings
from database import connections
from database.names import SERVICE_DATABASES, WAREHOUSE_DATABASE
from loadtest.expectations import UNKNOWN_BOUND
from loadtest.invariants import Report
from services import outbox
from services.app import CONNECTION_WAIT_S
from stack.lifecycle import Stack

CQRSW = Path(sys.executable).with_name("cqrsw")


def raw_batches(settings: Settings) -> int:
    """How many ingest transactions have drawn a batch id: grows while ingest writes."""
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        row = conn.execute("select last_value, is_called from raw.ingest_batch_seq").fetchone()
    assert row is not None
    return int(row[0]) if row[1] else 0


def kill_ingest_mid_run(settings: Settings, timeout: float = 120) -> bool:
    """Start `cqrsw ingest` in small batches and SIGKILL it once it has written one.

    True if it was still running when killed (it was cut mid-run, between or in batches).
    """
    before = raw_batches(settings)
    env = {**os.environ, **settings.as_env()}
    ingest = subprocess.Popen(
        [str(CQRSW), "ingest", "--batch-size", "5"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while raw_batches(settings) == before and ingest.poll() is None:
        assert time.monotonic() < deadline, "ingest wrote nothing"
        time.sleep(0.02)
    running = ingest.poll() is None
    ingest.send_signal(signal.SIGKILL)
    ingest.wait(30)
    return running


def restart_broker(stack: Stack) -> str:
    """Stop the memory-only broker and start it again empty; return when it came back (UTC)."""
    assert stack.stop_kafka()
    lost = datetime.now(UTC).isoformat()
    stack.up(services=True)  # starts the broker, its topics, and marks outboxes for re-publication
    assert "kafka" in stack.started
    return lost


def restart_postgres(stack: Stack, outage: float = CONNECTION_WAIT_S + 3) -> tuple[str, str]:
    """Stop PostgreSQL for ``outage`` seconds while the services take commands; (down, up).

    Longer than a request waits for a pooled connection: a command sent in the outage's
    first seconds gets its 503 while the server is still down. (With a shorter outage
    every waiting command is served late once it is back, and a 503 shows up only for a
    request caught mid-query by the shutdown: a matter of luck.)
    """
    down = datetime.now(UTC).isoformat()  # a fast shutdown refuses work from its start
    assert stack.stop_postgres()
    time.sleep(outage)
    stack.start_postgres()
    return down, datetime.now(UTC).isoformat()


def restart_service(stack: Stack, name: str = "stock") -> None:
    """SIGKILL a write service, whatever it is doing, and let the supervisor start it again."""
    from stack.http_services import HTTP_SERVICES
    from stack.supervisor import Supervisor

    service = next(s for s in HTTP_SERVICES if s.name == name)
    proc = service.pid_file(stack.settings).process()
    assert proc is not None
    proc.kill()
    proc.wait(10)
    assert Supervisor(stack, services=True, airflow=False).check() == [name]


def duplicate_deliveries(stack: Stack) -> None:
    """Have every relay send again all it ever published: each event reaches Kafka twice."""
    stack.republish_outboxes()


def wait_for_outboxes(settings: Settings, timeout: float = 180) -> None:
    """Until every write service's relay has published everything it recorded."""
    deadline = time.monotonic() + timeout
    while True:
        left = 0
        for name in SERVICE_DATABASES:
            with connections.connect(settings, name) as conn:
                left += outbox.pending(conn)
        if left == 0:
            return
        assert time.monotonic() < deadline, f"{left} outbox rows still unpublished"
        time.sleep(0.5)


def assert_holds(report: Report, records: list[dict[str, Any]], seen: dict[str, Any]) -> None:
    print("\n".join(report.lines()))  # the figures, shown with -s or on failure
    assert report.ok, "\n".join(report.lines())
    figures = report.findings.figures
    assert figures["commands accepted"] > 100
    # What stays unknown after each command was asked again with its key: at most 1 %.
    commands = sum(n for name, n in figures.items() if name.startswith("commands "))
    commands -= figures.get("commands resolved by a retry with their key", 0)
    assert figures.get("commands unknown", 0) <= UNKNOWN_BOUND * commands
    assert figures["orders served"] > 0 and figures["product days served"] > 0
    assert figures["commands refused"] > 0  # decreases below zero, cancels of the unknown
    assert figures["poison messages produced"] > 0
    assert figures["reads through the read API"] > 0
    assert any(r["kind"] == "stock_decrease" and r.get("status") == 409 for r in records)
    assert any(r["retry_of"] and r.get("status") in (200, 201) for r in records)
    if "postgres_down" in seen:
        down, up = seen["postgres_down"], seen["postgres_up"]
        during = [r for r in records if down < r["sent_at"] and r["answered_at"] < up]
        assert any(r.get("status") == 503 for r in during), "no 503 during the outage"
        after = [r for r in records if r["sent_at"] > up and r.get("status") in (200, 201)]
        assert after, "no command succeeded after PostgreSQL came back"
