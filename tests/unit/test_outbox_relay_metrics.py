"""A relay's counters exist at 0 before anything happens, so a first failure is an increase."""

from __future__ import annotations

from prometheus_client import REGISTRY
from psycopg_pool import ConnectionPool

from config.settings import Settings
from services.outbox import Relay


def test_a_new_relay_reports_zero_published_and_zero_failures() -> None:
    service = "relay-metrics-unit"
    labels = {"service": service}
    assert REGISTRY.get_sample_value("cqrsw_outbox_relay_failures_total", labels) is None
    pool = ConnectionPool("dbname=nowhere", open=False)  # never connects
    Relay(Settings(), pool, service=service)
    assert REGISTRY.get_sample_value("cqrsw_outbox_relay_failures_total", labels) == 0
    assert REGISTRY.get_sample_value("cqrsw_outbox_published_total", labels) == 0
