"""``stack up --prometheus``: the OS package's Prometheus with the alert rules, and the exporter."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from config.settings import Settings
from stack.monitoring import prometheus_status, start_prometheus, stop_prometheus
from tests.support.throwaway_stack import free_port


@pytest.fixture
def monitored(settings: Settings) -> Iterator[Settings]:
    ours = settings.model_copy(update={"metrics_port": free_port(), "prometheus_port": free_port()})
    _, started = start_prometheus(ours, {**os.environ, **ours.as_env()})
    try:
        yield ours
    finally:
        assert sorted(stop_prometheus(ours, started)) == ["pipeline-exporter", "prometheus"]


def test_prometheus_serves_the_alert_rules_and_the_exporter_answers(monitored: Settings) -> None:
    base = f"http://127.0.0.1:{monitored.prometheus_port}"
    groups = httpx.get(f"{base}/api/v1/rules", timeout=10).json()["data"]["groups"]
    alerts = {rule["name"] for group in groups for rule in group["rules"]}
    rules_file = Path(__file__).parents[2] / "deploy" / "prometheus" / "alerts.yml"
    declared = yaml.safe_load(rules_file.read_text())["groups"]
    assert alerts == {rule["alert"] for group in declared for rule in group["rules"]}
    assert {"ServiceDown", "PipelineStale", "DeadLettersArrived", "IngestLagging"} <= alerts
    jobs: set[str] = set()
    deadline = time.monotonic() + 20
    while not jobs and time.monotonic() < deadline:  # targets appear once discovery ran
        targets = httpx.get(f"{base}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        jobs = {t["labels"]["job"] for t in targets}
        time.sleep(0.2)
    assert jobs == {
        "orders", "invoices", "stock", "read_api", "pipeline",
    }  # fmt: skip
    scraped = httpx.get(f"http://127.0.0.1:{monitored.metrics_port}/metrics", timeout=10).text
    assert "cqrsw_warehouse_up 1.0" in scraped
    assert prometheus_status(monitored)["prometheus"].endswith(" up")
