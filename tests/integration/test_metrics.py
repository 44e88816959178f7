"""The metrics Prometheus scrapes: services' commands and outboxes, the pipeline exporter."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, generate_latest

from config.settings import Settings
from contracts.catalog import TOPICS
from ingest.job import run_ingest
from ingest.metrics import write_textfile
from pipeline import ops
from pipeline.exporter import TextfileCollector, pipeline_registry
from tests.support.relay import relay_all

Auth = Callable[[str], dict[str, str]]


def sample(name: str, labels: dict[str, str]) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    assert value is not None, f"{name}{labels} is not exported"
    return value


def counted(labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value("cqrsw_commands_total", labels) or 0.0


def test_commands_are_counted_by_route_and_outcome(orders: TestClient, auth: Auth) -> None:
    labels = {"service": "orders", "route": "/orders/{order_id}/cancel"}
    accepted, rejected = (counted({**labels, "outcome": o}) for o in ("accepted", "rejected"))
    order_id = orders.post("/orders", json={"customer_name": "M"}, headers=auth("m")).json()[
        "order_id"
    ]
    assert orders.post(f"/orders/{order_id}/cancel", headers=auth("m")).status_code == 200
    assert orders.post(f"/orders/{uuid.uuid4()}/cancel", headers=auth("m")).status_code == 404
    assert counted({**labels, "outcome": "accepted"}) == accepted + 1
    assert counted({**labels, "outcome": "rejected"}) == rejected + 1


def test_outbox_backlog_and_age_are_read_from_the_database(
    settings: Settings, orders: TestClient, auth: Auth
) -> None:
    relay_all(settings, "orders")
    assert sample("cqrsw_outbox_backlog", {"service": "orders"}) == 0
    orders.post("/orders", json={"customer_name": "B"}, headers=auth("b"))
    time.sleep(0.2)
    assert sample("cqrsw_outbox_backlog", {"service": "orders"}) == 1
    assert sample("cqrsw_outbox_oldest_unpublished_age_seconds", {"service": "orders"}) > 0.1
    assert b"cqrsw_outbox_backlog" in orders.get("/metrics/").content
    published = REGISTRY.get_sample_value("cqrsw_outbox_published_total", {"service": "orders"})
    published = published or 0.0
    relay_all(settings, "orders")
    assert sample("cqrsw_outbox_backlog", {"service": "orders"}) == 0
    assert sample("cqrsw_outbox_published_total", {"service": "orders"}) == published + 1


def test_the_pipeline_exporter_serves_warehouse_facts_and_the_jobs_textfiles(
    settings: Settings,
) -> None:
    run_ingest(settings)  # writes <state_dir>/metrics/ingest.prom
    ops.record_publication(settings, {"products": 3}, "test_dag", f"run-{uuid.uuid4()}")
    registry = pipeline_registry(settings)
    text = generate_latest(registry).decode()
    assert "cqrsw_warehouse_up 1.0" in text
    published = registry.get_sample_value(
        "cqrsw_view_last_published_timestamp_seconds", {"view": "products"}
    )
    assert published is not None and abs(published - time.time()) < 60
    runs = registry.get_sample_value(
        "cqrsw_pipeline_runs", {"dag_id": "test_dag", "outcome": "success"}
    )
    assert runs is not None and runs >= 1
    # every topic reports its dead letters, 0 while there are none (not a missing series)
    for topic in TOPICS:
        dead = registry.get_sample_value("cqrsw_dead_letter_events", {"topic": topic})
        assert dead is not None and dead >= 0, topic
    assert "cqrsw_ingest_lag_messages" in text  # from ingest.prom
    assert "cqrsw_ingest_last_success_timestamp_seconds" in text


def test_a_malformed_textfile_is_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "broken.prom").write_text("this is { not prometheus\n")
    write_textfile(tmp_path / "ingest.prom")
    names = {m.name for m in TextfileCollector(tmp_path).collect()}
    assert "cqrsw_ingest_last_success_timestamp_seconds" in names
