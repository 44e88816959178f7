"""Load while the broker restarts empty and ingest is SIGKILLed; then every invariant holds.

The short fault test of `make test`: seeded traffic (orders, early invoices, cancellations,
racing stock changes on hot products, idempotent retries, poison messages) through the
real services, relays, broker, ingest, dbt, gate and publish.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cqrsw.invariants import check
from cqrsw.loadgen import LoadGenerator, read_record
from cqrsw.stack import Stack
from cqrsw.traffic import Traffic
from pipeline.steps import run_pipeline
from tests.support.faults import kill_ingest_mid_run, restart_broker, wait_for_outboxes
from tests.support.throwaway_stack import free_port, throwaway_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SERVICES = ("orders", "invoices", "stock", "read_api")


def test_load_through_a_broker_restart_and_a_killed_ingest(tmp_path: Path) -> None:
    ports: dict[str, Any] = {f"{name}_port": free_port() for name in SERVICES}
    with throwaway_stack(
        relay_enabled=True,
        relay_interval_s=0.2,
        jwt_secret="fault-suite-secret-0123456789abcdef",
        **ports,
    ) as settings:
        stack = Stack(settings)
        stack.up(services=True)
        record = tmp_path / "load.jsonl"
        with record.open("w") as out:
            load = LoadGenerator(settings, Traffic(seed=16), out, concurrency=6)
            sender = threading.Thread(target=load.run, args=(12.0, 36.0, lambda _: None))
            sender.start()
            time.sleep(8)
            assert kill_ingest_mid_run(settings)
            time.sleep(6)
            lost = restart_broker(stack)
            sender.join(timeout=180)
            assert not sender.is_alive()
        wait_for_outboxes(settings)
        run_pipeline(settings)

        records = read_record(record)
        report = check(settings, records, strict=True, broker_lost=lost)
        assert report.ok, "\n".join(report.lines())
        figures = report.findings.figures
        assert figures["commands accepted"] > 150
        assert figures["commands refused"] > 0  # decreases below zero, cancels of the unknown
        assert figures["poison messages produced"] > 0
        kinds = {(r["kind"], r.get("status")) for r in records}
        assert ("stock_decrease", 409) in kinds
        assert any(r["retry_of"] and r.get("status") in (200, 201) for r in records)
