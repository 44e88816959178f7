"""Load while things fail; then every invariant holds (`make test` short, `make test-faults` all).

Seeded traffic (orders, early invoices, cancellations, racing stock changes on hot
products, idempotent retries, poison messages) goes through the real services, relays,
broker and ingest while faults are injected; the load generator then
asks about every command of unknown outcome with its idempotency key; after the pipeline
catches up, `loadtest.invariants.check` must find nothing, every view compared row by row.
dbt, the gate and publish run once, after the faults, in this process: Airflow is not
involved here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from loadtest.invariants import Report, check
from loadtest.loadgen import LoadGenerator, read_record
from loadtest.traffic import Traffic
from pipeline.steps import run_pipeline
from stack.lifecycle import Stack
from tests.support import faults
from tests.support.faults import assert_holds
from tests.support.throwaway_stack import free_port, throwaway_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.faults]
SERVICES = ("orders", "invoices", "stock", "read_api")
Fault = Callable[[Stack, Settings, dict[str, Any]], None]


def _broker(stack: Stack, settings: Settings, seen: dict[str, Any]) -> None:
    seen["broker_lost"] = faults.restart_broker(stack)


def _ingest(stack: Stack, settings: Settings, seen: dict[str, Any]) -> None:
    assert faults.kill_ingest_mid_run(settings)


def _postgres(stack: Stack, settings: Settings, seen: dict[str, Any]) -> None:
    seen["postgres_down"], seen["postgres_up"] = faults.restart_postgres(stack)


def _service(stack: Stack, settings: Settings, seen: dict[str, Any]) -> None:
    faults.restart_service(stack, "stock")


def _duplicates(stack: Stack, settings: Settings, seen: dict[str, Any]) -> None:
    faults.duplicate_deliveries(stack)


FAULTS: dict[str, Fault] = {
    "ingest": _ingest,
    "broker": _broker,
    "postgres": _postgres,
    "service": _service,
    "duplicates": _duplicates,
}


def run_under_faults(
    tmp_path: Path, names: list[str], *, rate: float = 12.0, duration: float = 36.0
) -> tuple[Report, list[dict[str, Any]], dict[str, Any]]:
    """Load for ``duration`` s; inject the faults one after the other, evenly spaced."""
    ports: dict[str, Any] = {f"{name}_port": free_port() for name in SERVICES}
    seen: dict[str, Any] = {}
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
            sender = threading.Thread(target=load.run, args=(rate, duration, lambda _: None))
            sender.start()
            pause = duration / (len(names) + 2)
            for name in names:
                time.sleep(pause)
                FAULTS[name](stack, settings, seen)
            sender.join(timeout=300)
            assert not sender.is_alive()
        faults.wait_for_outboxes(settings)
        run_pipeline(settings)
        records = read_record(record)
        lost = seen.get("broker_lost")
        report = check(settings, records, strict=True, broker_lost=lost, reads=True)
        return report, records, seen


def test_load_through_a_broker_restart_and_a_killed_ingest(tmp_path: Path) -> None:
    """The short version, in `make test`."""
    assert_holds(*run_under_faults(tmp_path, ["ingest", "broker"]))


@pytest.mark.long
@pytest.mark.parametrize(
    "names", [[name] for name in FAULTS] + [list(FAULTS)], ids=lambda names: "+".join(names)
)
def test_fault_suite(tmp_path: Path, names: list[str]) -> None:
    assert_holds(*run_under_faults(tmp_path, names, duration=45.0))
