"""A throwaway embedded stack for benchmarks: own state dir, free ports, stopped afterwards."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cqrsw.stack import Stack
from services.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def embedded_stack(*, kafka: bool = True) -> Iterator[Settings]:
    """PostgreSQL (and the Tansu broker) on free ports; or the external ones the env names."""
    with tempfile.TemporaryDirectory(prefix="cqrsw-bench-") as state:
        settings = Settings(
            state_dir=Path(state), pg_port=free_port(), kafka_port=free_port(), relay_enabled=False
        )
        stack = Stack(settings)
        try:
            if kafka:
                stack.up()
            else:
                if settings.embedded_postgres:
                    stack.start_postgres()
                stack.prepare_databases()
            yield settings
        finally:
            stack.down()
