"""The Grafana dashboard queries only metrics the code exports (and Prometheus's own ``up``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import REGISTRY
from prometheus_client.core import Metric

import services.outbox_metrics
import services.telemetry
from config.settings import Settings
from ingest import metrics as ingest_metrics
from pipeline.exporter import WarehouseCollector
from quality.metrics import gate_registry
from tests.support.dashboards import metrics_in, queries

DASHBOARD = (
    Path(__file__).resolve().parents[2]
    / "deploy"
    / "grafana"
    / "dashboards"
    / "cqrs-warehouse.json"
)
SUFFIXES = ("", "_total", "_bucket", "_sum", "_count", "_created")


def names(families: Iterable[Metric]) -> set[str]:
    return {family.name + suffix for family in families for suffix in SUFFIXES}


def exported_metrics() -> set[str]:
    assert services.telemetry and services.outbox_metrics  # imported for their metrics
    return (
        names(REGISTRY.collect())
        | names(ingest_metrics.REGISTRY.collect())
        | names(gate_registry("raw", {"raw": (True, 0)}, True, now=0).collect())
        | names(WarehouseCollector(Settings()).describe())
        | {"up"}  # written by Prometheus for every scrape target
    )


def test_the_expression_parser_finds_metrics_and_skips_functions_and_labels() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (service, le) "
        '(rate(cqrsw_http_request_seconds_bucket{status=~"5.."}[5m]))) / time() - up'
    )
    assert metrics_in(expr) == {"cqrsw_http_request_seconds_bucket", "up"}


def test_every_dashboard_query_names_an_exported_metric() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = queries(dashboard)
    assert len(exprs) >= 15
    exported = exported_metrics()
    unknown = {expr: metrics_in(expr) - exported for expr in exprs if metrics_in(expr) - exported}
    assert unknown == {}
    assert all(metrics_in(expr) for expr in exprs)  # each query reads at least one metric


def test_a_query_on_a_metric_nobody_exports_would_be_caught() -> None:
    assert metrics_in("rate(cqrsw_orders_shipped_total[5m])") - exported_metrics() == {
        "cqrsw_orders_shipped_total"
    }


def test_the_dashboard_covers_each_service_and_the_pipeline() -> None:
    text = DASHBOARD.read_text()
    for metric in (
        "cqrsw_http_requests_total",
        "cqrsw_outbox_backlog",
        "cqrsw_ingest_lag_messages",
        "cqrsw_view_last_published_timestamp_seconds",
        "cqrsw_dead_letter_events",
    ):
        assert metric in text
