"""The local stack: embedded PostgreSQL, the Tansu broker and the services, or external ones."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from config.settings import Settings
from contracts.catalog import TOPICS
from contracts.key_files import ensure_local_keys, local_keys_dir
from database import connections, migrate, roles
from database.names import AIRFLOW_DATABASE, SERVICE_DATABASES, WAREHOUSE_DATABASE
from services import outbox
from stack import broker, pg_auth
from stack.airflow import (
    COMPONENTS,
    airflow_status,
    prepare_airflow,
    start_airflow,
    stop_airflow,
    ui_url,
)
from stack.gateway import GatewayUnavailable, gateway_status, start_gateway, stop_gateway
from stack.http_services import HTTP_SERVICES, HttpService, start_service
from stack.monitoring import NAMES as MONITORING
from stack.monitoring import prometheus_status, start_prometheus, stop_prometheus
from stack.postgres import EmbeddedPostgres
from stack.processes import PidFile, StackError


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

    def _postgres_pid_file(self) -> PidFile:
        return PidFile(self.state, "postgres", str(self.pgdata))

    def start_postgres(self, started: list[str] | None = None) -> str:
        """Start the server unless it runs; ``started`` gets "postgres" before it is waited on."""
        address = f"postgresql://127.0.0.1:{self.settings.pg_port}/"
        if self.postgres.running():
            pg_auth.require_passwords(self.settings, self.pgdata)  # one an older version started
            return f"{address} (already running)"
        if started is not None:
            started.append("postgres")  # pg_ctl may be interrupted while the server comes up
        # A new cluster gets a new superuser password; an existing one keeps the one it has.
        fresh = not self.postgres.initialized()
        password = pg_auth.superuser_password(self.settings) if fresh else None
        self.postgres.start(self._postgres_pid_file(), password)
        pg_auth.require_passwords(self.settings, self.pgdata)  # a cluster made with trust
        return address

    def stop_postgres(self) -> bool:
        self._postgres_pid_file().path.unlink(missing_ok=True)
        return self.postgres.stop()

    # -- Kafka (Tansu) ---------------------------------------------------------------------
    def start_kafka(self, started: list[str] | None = None) -> str:
        return broker.start_kafka(self.settings, [] if started is None else started)

    def stop_kafka(self) -> bool:
        return broker.kafka_pid_file(self.settings).stop()

    def create_topics(self) -> None:
        broker.create_topics(self.settings)

    # -- HTTP services -----------------------------------------------------------------------
    def start_service(self, service: HttpService, started: list[str] | None = None) -> str:
        return start_service(self.settings, service, [] if started is None else started)

    # -- the whole stack ------------------------------------------------------------------------
    def up(
        self,
        *,
        services: bool = False,
        airflow: bool = False,
        gateway: bool = False,
        prometheus: bool = False,
    ) -> dict[str, str]:
        """Start what is not running, create databases, schemas and topics; say where each listens.

        A part that died is started again. If this call fails or is interrupted (Ctrl-C,
        SIGTERM), everything it started is stopped again, so nothing is left orphaned: each
        part is counted as started as soon as its process exists, before it is waited on.
        """
        started: list[str] = []
        where: dict[str, str] = {}
        try:
            if self.settings.embedded_postgres:
                where["postgres"] = self.start_postgres(started)
            else:
                where["postgres"] = "external (CQRSW_DATABASE_URL)"
            self.prepare_databases()
            if self.settings.env == "dev":  # the producers' keys and the ingest's trusted set
                ensure_local_keys(local_keys_dir(self.settings))
            if self.settings.embedded_kafka:
                where["kafka"] = self.start_kafka(started)
            else:
                where["kafka"] = f"external {','.join(self.settings.bootstrap_servers)}"
            self.create_topics()
            if "kafka" in started:
                self.republish_outboxes()
            if services:
                for service in HTTP_SERVICES:
                    where[service.name] = self.start_service(service, started)
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
        except BaseException:
            self._stop(started)
            raise
        self.started = started
        return where

    def start_airflow(self, started: list[str]) -> str:
        """Airflow's metadata database, login and dbt manifest, then its processes."""
        running = [c for c in COMPONENTS if c.pid_file(self.settings).process() is not None]
        if len(running) == len(COMPONENTS):
            return f"{ui_url(self.settings)} (already running)"
        # With the api-server up, the metadata database was migrated and the login written by
        # whoever started it: a scheduler or triggerer that died comes back without that
        # (half a minute on a busy machine, spent while no run makes progress).
        if COMPONENTS[0] not in running:
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
        """Where each part listens and whether it is up, down, or died since it was started."""
        report = {}
        if self.settings.embedded_postgres:
            running = self.postgres.running()
            died = not running and self._postgres_pid_file().recorded() is not None
            report["postgres"] = f"127.0.0.1:{self.settings.pg_port} " + (
                "up" if running else "died" if died else "down"
            )
        if self.settings.embedded_kafka:
            kafka = broker.kafka_pid_file(self.settings).state()
            report["kafka"] = f"127.0.0.1:{self.settings.kafka_port} {kafka}"
        for service in HTTP_SERVICES:
            where = f"http://127.0.0.1:{service.port(self.settings)}"
            report[service.name] = f"{where} {service.pid_file(self.settings).state()}"
        report["gateway"] = gateway_status(self.settings)
        report.update(airflow_status(self.settings))
        report.update(prometheus_status(self.settings))
        return report

    def died(self) -> list[str]:
        """The parts that died since they were started."""
        return [part for part, where in self.status().items() if where.endswith(" died")]

    def pid_files(self) -> dict[str, PidFile]:
        """The pid file of each part this stack spawns itself (not PostgreSQL's pg_ctl)."""
        files = {c.name: c.pid_file(self.settings) for c in COMPONENTS}
        files.update((s.name, s.pid_file(self.settings)) for s in HTTP_SERVICES)
        files["kafka"] = broker.kafka_pid_file(self.settings)
        files["postgres"] = self._postgres_pid_file()
        return files

    def clear_remains(self, part: str) -> int:
        """Stop what a part that died left running (PidFile.remains); how many processes."""
        pid_file = self.pid_files().get(part)
        return 0 if pid_file is None else pid_file.clear_remains()

    def prepare_databases(self) -> None:
        """Roles, databases (each owned by its component), their migrations, who may read what.

        Roles and databases are the cluster's, made here; everything inside a database is a
        versioned migration (database.migrate, docs/adr/migrations.md)."""
        try:
            roles.ensure_roles(self.settings)
        except Exception as exc:
            raise StackError(f"postgres: cannot create the database roles: {exc}") from exc
        for name in (*SERVICE_DATABASES, AIRFLOW_DATABASE, WAREHOUSE_DATABASE):
            try:
                connections.ensure_database(self.settings, name, roles.DATABASE_OWNERS.get(name))
                roles.secure_database(self.settings, name)
            except Exception as exc:
                raise StackError(f"postgres: cannot create database {name!r}: {exc}") from exc
        try:
            migrate.upgrade(self.settings)
        except Exception as exc:
            raise StackError(f"postgres: cannot upgrade the schemas: {exc}") from exc
        roles.grant_reads(self.settings, TOPICS)

    def republish_outboxes(self) -> None:
        """A freshly started memory-only broker is empty: have the relays send every event again.

        The warehouse deduplicates on event_id, so what it already holds is not doubled.
        """
        for name in SERVICE_DATABASES:
            with connections.connect(self.settings, name) as conn:
                if conn.execute("select to_regclass('outbox')").fetchone() != (None,):
                    outbox.replay(conn, datetime(1970, 1, 1, tzinfo=UTC))
