"""Prometheus metrics of the write services' outboxes: backlog and age, read when scraped.

The backlog is a fact of the database, not of the process: it is queried at scrape time
(one indexed query per service) rather than kept in a gauge that a restart would reset.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

PUBLISHED = Counter(
    "cqrsw_outbox_published_total", "Events the relay published to Kafka", ["service"]
)
RELAY_FAILURES = Counter(
    "cqrsw_outbox_relay_failures_total",
    "Relay passes that failed (broker or database down); retried with backoff",
    ["service"],
)

BACKLOG_SQL = (
    "select count(*), coalesce(extract(epoch from now() - min(created_at)), 0)::float8"
    " from outbox where published_at is null"
)


class OutboxCollector(Collector):
    """Backlog and oldest unpublished age of every outbox this process serves."""

    def __init__(self) -> None:
        # Keyed by pool: two apps of one service in a process (tests) come and go separately.
        self._pools: dict[int, tuple[str, ConnectionPool]] = {}
        self._lock = threading.Lock()

    def watch(self, service: str, pool: ConnectionPool) -> None:
        with self._lock:
            self._pools[id(pool)] = (service, pool)

    def forget(self, pool: ConnectionPool) -> None:
        with self._lock:
            self._pools.pop(id(pool), None)

    def collect(self) -> Iterator[Metric]:
        backlog = GaugeMetricFamily(
            "cqrsw_outbox_backlog", "Events recorded but not yet published", labels=["service"]
        )
        age = GaugeMetricFamily(
            "cqrsw_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished event (0 when the outbox is empty)",
            labels=["service"],
        )
        with self._lock:
            pools = {service: pool for service, pool in self._pools.values()}  # one per service
        for service, pool in sorted(pools.items()):
            try:
                with pool.connection(timeout=5) as conn:
                    row = conn.execute(BACKLOG_SQL).fetchone()
            except Exception as exc:  # a scrape must not fail because the database is down
                log.warning("outbox backlog of %s unavailable: %s", service, exc)
                continue
            assert row is not None
            backlog.add_metric([service], float(row[0]))
            age.add_metric([service], float(row[1]))
        yield backlog
        yield age


OUTBOXES = OutboxCollector()
REGISTRY.register(OUTBOXES)
