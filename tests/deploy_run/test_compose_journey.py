"""A user's journey through docker-compose.yml running in podman, from the host on 127.0.0.1.

Commands go through the gateway; the compose Airflow scheduler (not a test-driven DAG run)
ingests, builds and publishes; every read route answers through the gateway; Prometheus
scrapes every target; Grafana (the stand-in) provisioned the Prometheus datasource and every
dashboard of the repository, each panel querying only metrics Prometheus has; the OTLP
receiver got the command's trace and the ingest span linked to it; ``down -v`` leaves
nothing behind. Tests run in file order on one stack.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from ingest.metrics import LAST_RUN, ROWS_INGESTED
from quality.metrics import gate_registry
from tests.support.dashboards import (
    metrics_in,
    panel_datasources,
    queries,
    repo_dashboards,
    resolve_datasource,
)
from tests.support.podman import Compose, issue_token, podman, read_env_file

PUBLISH_TIMEOUT_S = 900


def host_port(compose: Compose, service: str, container_port: int) -> int:
    """The host port compose publishes ``container_port`` of ``service`` on."""
    for port in compose.config()["services"][service].get("ports", []):
        published, target = _published(port)
        if target == container_port:
            return published
    raise AssertionError(f"{service} publishes no port {container_port}")


def _published(port: Any) -> tuple[int, int]:
    if isinstance(port, dict):
        return int(port["published"]), int(port["target"])
    host, _, target = str(port).rpartition(":")
    return int(host.rpartition(":")[2]), int(target)


def token(compose: Compose, subject: str, *roles: str) -> str:
    """A token the identity provider (the key pair of the harness's env file) would issue."""
    return issue_token(subject, *roles)


class Journey:
    """What the steps learn, handed from one test to the next."""

    order_id = ""
    order_position = ""
    product_id = f"deploy-{uuid.uuid4().hex[:8]}"
    user = f"user-{uuid.uuid4().hex[:6]}"
    traceparent = ""
    headers: dict[str, dict[str, str]] = {}  # noqa: RUF012 shared state of this module


@pytest.fixture(scope="module")
def gateway(compose: Compose) -> httpx.Client:
    base = f"http://127.0.0.1:{host_port(compose, 'gateway', 8080)}"
    return httpx.Client(base_url=base, timeout=30)


def auth(name: str) -> dict[str, str]:
    return Journey.headers[name]


def test_tokens_are_issued_and_required(compose: Compose, gateway: httpx.Client) -> None:
    Journey.headers = {
        "user": {"Authorization": f"Bearer {token(compose, Journey.user)}"},
        "billing": {"Authorization": f"Bearer {token(compose, 'bill', 'billing')}"},
        "stock": {"Authorization": f"Bearer {token(compose, 'keeper', 'stock')}"},
    }
    r = gateway.get("/orders-with-invoices", params={"userId": Journey.user})
    assert r.status_code == 401, r.text
    r = gateway.get(
        "/orders-with-invoices", params={"userId": "someone-else"}, headers=auth("user")
    )
    assert r.status_code == 403, r.text


def test_an_order_an_invoice_and_stock_operations(gateway: httpx.Client) -> None:
    r = gateway.post(
        "/orders",
        json={
            "customer_name": "Dana",
            "items": [{"product_id": Journey.product_id, "quantity": 2}],
        },
        headers=auth("user"),
    )
    assert r.status_code == 201, r.text
    Journey.order_id = r.json()["order_id"]
    Journey.order_position = r.json()["position_token"]
    Journey.traceparent = r.headers.get("traceparent", "")
    r = gateway.post("/invoices", json={"order_id": Journey.order_id}, headers=auth("billing"))
    assert r.status_code == 201, r.text
    for operation, amount in (("increase", 10), ("decrease", 3)):
        r = gateway.post(
            f"/products/{Journey.product_id}/stock-operations",
            json={"operation": operation, "amount": amount},
            headers=auth("stock"),
        )
        assert r.status_code == 201, r.text
    assert r.json()["stock"] == 7


def test_the_scheduler_publishes_the_order(gateway: httpx.Client) -> None:
    """Read with the order's position token until the served view includes it."""
    deadline = time.monotonic() + PUBLISH_TIMEOUT_S
    seen = ""
    while time.monotonic() < deadline:
        r = gateway.get(
            "/orders-with-invoices",
            params={"userId": Journey.user},
            headers={**auth("user"), "X-Position-Token": Journey.order_position},
        )
        seen = f"{r.status_code} {r.headers.get('X-Position-Stage')} {r.text[:200]}"
        if r.status_code == 200 and r.headers.get("X-Position-Included") == "true":
            rows = {row["orderId"]: row for row in r.json()}
            if rows.get(Journey.order_id, {}).get("status") == "invoiced":
                return
        time.sleep(10)
    pytest.fail(f"not published within {PUBLISH_TIMEOUT_S} s; last answer: {seen}")


def test_every_read_route_answers_through_the_gateway(gateway: httpx.Client) -> None:
    r = gateway.get("/products", headers=auth("stock"))
    assert r.status_code == 200, r.text
    r = gateway.get(f"/products/{Journey.product_id}/stock", headers=auth("stock"))
    assert r.status_code == 200, r.text
    assert r.json()["stock"] == 7
    r = gateway.get(f"/products/{Journey.product_id}/stock/history", headers=auth("stock"))
    assert r.status_code == 200, r.text
    assert r.json(), "the stock history of the product is empty"
    r = gateway.get("/freshness", headers=auth("stock"))
    assert r.status_code == 200, r.text


def test_prometheus_scrapes_every_target_and_has_the_pipeline_metrics(compose: Compose) -> None:
    prometheus = f"http://127.0.0.1:{host_port(compose, 'prometheus', 9090)}"
    gate_names = {m.name for m in gate_registry("g", {"s": (True, 0)}, True, now=0).collect()}
    wanted = {m.name for m in LAST_RUN.describe()} | {
        m.name + "_total" for m in ROWS_INGESTED.describe()
    }
    wanted |= gate_names
    deadline = time.monotonic() + 120
    down: list[str] = []
    missing: set[str] = set()
    while time.monotonic() < deadline:
        targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]
        down = [
            f"{t['labels']['job']}: {t['health']} {t.get('lastError', '')}"
            for t in targets["activeTargets"]
            if t["health"] != "up"
        ]
        names = httpx.get(f"{prometheus}/api/v1/label/__name__/values", timeout=10).json()
        missing = wanted - set(names["data"])
        if not down and not missing and targets["activeTargets"]:
            return
        time.sleep(5)
    pytest.fail(f"targets not up: {down}; metrics missing: {sorted(missing)}")


def test_grafana_provisions_prometheus_and_every_dashboard_on_metrics_prometheus_has(
    compose: Compose,
) -> None:
    grafana = httpx.Client(
        base_url=f"http://127.0.0.1:{host_port(compose, 'grafana', 3000)}",
        auth=("admin", read_env_file(compose.env_file)["GRAFANA_ADMIN_PASSWORD"]),
        timeout=30,
    )
    assert grafana.get("/api/health").status_code == 200
    datasources = grafana.get("/api/datasources").json()
    (prometheus,) = [d for d in datasources if d["type"] == "prometheus"]
    # The datasource's URL is the compose Prometheus, reached from Grafana's container.
    podman("exec", compose.container("grafana"), "wget", "-q", "--spider",
           f"{prometheus['url']}/-/healthy")  # fmt: skip
    hits = grafana.get("/api/search", params={"type": "dash-db"}).json()
    assert {h["uid"] for h in hits} == set(repo_dashboards())
    wanted: dict[str, set[str]] = {}
    for hit in hits:
        dashboard = grafana.get(f"/api/dashboards/uid/{hit['uid']}").json()["dashboard"]
        for title, reference in panel_datasources(dashboard):
            assert resolve_datasource(reference, dashboard, datasources) == prometheus, title
        exprs = queries(dashboard)
        assert exprs, hit["uid"]
        wanted |= {e: metrics_in(e) for e in exprs}
    # The warehouse facts appear with the exporter's first scrape after the publication.
    names = (
        f"http://127.0.0.1:{host_port(compose, 'prometheus', 9090)}/api/v1/label/__name__/values"
    )
    deadline = time.monotonic() + 180
    while True:
        scraped = set(httpx.get(names, timeout=10).json()["data"])
        unknown = {e: sorted(m - scraped) for e, m in wanted.items() if m - scraped}
        if not unknown or time.monotonic() > deadline:
            break
        time.sleep(5)
    if unknown:  # what the exporter serves now, to tell a late scrape from a missing fact
        url = "http://127.0.0.1:9108/metrics"
        read = f"import urllib.request as u; print(u.urlopen({url!r}).read().decode())"
        served = podman("exec", compose.container("pipeline-exporter"), "python", "-c", read)
        facts = [
            line
            for line in served.splitlines()
            if line.startswith(
                ("cqrsw_view", "cqrsw_warehouse", "cqrsw_pipeline_runs", "cqrsw_dead")
            )
        ]
        pytest.fail(f"panels query metrics Prometheus does not have: {unknown}; exporter: {facts}")


def test_the_otlp_receiver_has_the_command_trace_and_the_linked_ingest_span(
    compose: Compose,
) -> None:
    receiver = f"http://127.0.0.1:{host_port(compose, 'jaeger', 16686)}"
    spans = httpx.get(f"{receiver}/api/spans", timeout=30).json()["spans"]
    commands = [s for s in spans if s["attributes"].get("http.route") == "/orders"]
    assert commands, f"no span of POST /orders among {len(spans)} spans"
    command_traces = {s["trace_id"] for s in commands}
    if Journey.traceparent:
        command_traces &= {Journey.traceparent.split("-")[1]}
    linked = [
        s
        for s in spans
        if s["name"] == "ingest batch"
        and any(link["trace_id"] in command_traces for link in s["links"])
    ]
    assert linked, "no ingest span linked to the command's trace"


def test_down_leaves_no_container_network_or_volume(compose: Compose) -> None:
    compose.down()
    assert compose.leftovers() == {"containers": [], "networks": [], "volumes": []}
