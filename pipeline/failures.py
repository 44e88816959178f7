"""Which task failures are transient (the broker or the database out of reach) and which not.

A failed data-quality check, a failed dbt test or a bug fails the same way on every try, so
retrying it only delays the alert.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
from kafka.errors import KafkaError

from quality.gate import DataQualityFailed

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted
    TimeoutError,
    psycopg.OperationalError,  # the server is down, restarting or unreachable
)

# dbt (in-process via Cosmos, or as a subprocess) reports a lost database only as text.
_TRANSIENT_TEXT = re.compile(
    r"connection refused|could not connect to server|connection to server at .* failed"
    r"|server closed the connection unexpectedly|the database system is (starting up|shutting down)"
    r"|timeout expired|no brokers available|name or service not known",
    re.IGNORECASE,
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_transient(exc: BaseException) -> bool:
    """True if the failure, or what caused it, is an unreachable broker or database."""
    chain = list(_chain(exc))
    if any(isinstance(e, DataQualityFailed) for e in chain):
        return False
    for error in chain:
        if isinstance(error, _TRANSIENT_TYPES):
            return True
        if isinstance(error, KafkaError) and getattr(error, "retriable", False):
            return True
        if _TRANSIENT_TEXT.search(str(error)):
            return True
    return False
