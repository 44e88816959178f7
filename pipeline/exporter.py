"""The pipeline's Prometheus exporter: warehouse facts read at scrape time, plus batch textfiles.

The pipeline's jobs (ingest, gate, publish) are short processes that Prometheus cannot
scrape while they run. What they leave is served here, from one long-running process
(``cqrsw metrics serve``):

- facts that live in the warehouse (view freshness, dead letters, pipeline run outcomes)
  are queried at each scrape, so they are true after any restart and for runs started by
  anyone (Airflow, the CLI);
- what only a run knows (rows written and lag per partition, gate results) is written by the
  run as a Prometheus textfile under ``<state_dir>/metrics`` and served as is.

A Pushgateway would do the second part too, but it is another service to run and it keeps
a dead job's last push forever; a node-exporter textfile collector needs node-exporter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import psycopg
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from config.database_settings import DbRole
from config.settings import Settings
from contracts.catalog import TOPICS
from database import connections
from database.names import WAREHOUSE_DATABASE

log = logging.getLogger(__name__)

FRESHNESS_SQL = (
    "select distinct on (view_name) view_name, extract(epoch from published_at)::float8,"
    " coalesce(lag_seconds, 0) from ops.view_publications order by view_name, published_at desc"
)
DEAD_LETTERS_SQL = (
    "select kafka_topic, count(*), coalesce(extract(epoch from max(ingested_at)), 0)::float8"
    " from raw.dead_letter_events group by kafka_topic"
)
# A run succeeded when it recorded a publication; it failed when one of its tasks raised an
# alert (after its retries).
RUNS_SQL = (
    "select dag_id, 'success', count(distinct run_id) from ops.view_publications group by dag_id"
    " union all"
    " select dag_id, 'failed', count(distinct run_id) from ops.pipeline_alerts group by dag_id"
)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class WarehouseCollector(Collector):
    def __init__(self, settings: Settings):
        self.settings = settings

    def describe(self) -> Iterator[Metric]:
        """The families this collector serves, without samples (no database work)."""
        yield from self._families()

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        return (
            _gauge(
                "cqrsw_view_last_published_timestamp_seconds",
                "When each serving view was last published", ["view"],
            ),
            _gauge(
                "cqrsw_view_lag_seconds",
                "Age of the newest event behind a view when it was last published", ["view"],
            ),
            _gauge("cqrsw_dead_letter_events", "Messages in raw.dead_letter_events", ["topic"]),
            _gauge(
                "cqrsw_dead_letter_last_timestamp_seconds", "When a dead letter last arrived",
                ["topic"],
            ),
            _gauge(
                "cqrsw_pipeline_runs", "Pipeline runs by outcome (from ops tables)",
                ["dag_id", "outcome"],
            ),
            _gauge("cqrsw_warehouse_up", "1 if the warehouse answered this scrape", []),
        )  # fmt: skip

    def collect(self) -> Iterator[Metric]:
        published, lag, dead, dead_last, runs, up = self._families()
        try:
            # A read-only role: the exporter is reachable by Prometheus, so it holds no
            # password that writes (the ops tables are the publisher's, made by its runs).
            with connections.connect(
                self.settings, WAREHOUSE_DATABASE, role=DbRole.EXPORTER
            ) as conn:
                if _exists(conn, "ops.view_publications") and _exists(conn, "ops.pipeline_alerts"):
                    for view, at, seconds in conn.execute(FRESHNESS_SQL):
                        published.add_metric([view], at)
                        lag.add_metric([view], seconds)
                    for dag_id, outcome, count in conn.execute(RUNS_SQL):
                        runs.add_metric([dag_id, outcome], count)
                if _exists(conn, "raw.dead_letter_events"):
                    found = {
                        str(topic): (int(count), float(last))
                        for topic, count, last in conn.execute(DEAD_LETTERS_SQL)
                    }
                    # Every topic has its count, 0 while it has none: the dashboard shows
                    # "none" rather than no data, and a first dead letter is a change.
                    for topic in sorted(set(TOPICS) | set(found)):
                        count, last = found.get(topic, (0, None))
                        dead.add_metric([topic], count)
                        if last is not None:
                            dead_last.add_metric([topic], last)
            up.add_metric([], 1)
        except psycopg.Error as exc:  # a scrape reports the outage instead of failing
            log.warning("warehouse metrics unavailable: %s", exc)
            up.add_metric([], 0)
        yield from (published, lag, dead, dead_last, runs, up)


def _exists(conn: psycopg.Connection, table: str) -> bool:
    found = conn.execute("select to_regclass(%s)", (table,)).fetchone()
    return found is not None and found[0] is not None


class TextfileCollector(Collector):
    """Every ``*.prom`` file the batch jobs left, parsed (a malformed one is skipped, logged)."""

    def __init__(self, directory: Path):
        self.directory = directory

    def collect(self) -> Iterator[Metric]:
        for path in sorted(self.directory.glob("*.prom")):
            try:
                families = list(text_string_to_metric_families(path.read_text()))
            except (OSError, ValueError) as exc:
                log.warning("skipping metrics file %s: %s", path, exc)
                continue
            yield from families


def pipeline_registry(settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(WarehouseCollector(settings))
    registry.register(TextfileCollector(settings.state_dir / "metrics"))
    return registry
