"""In-memory backend of the write services: the same contracts as PostgreSQL, without IO.

A service's ``InMemoryDatabase`` outlives its units of work, as a database does; each unit
of work stages its writes and applies them on ``commit()``. Conflicts (a key or version
already taken) are detected when a write is staged. For unit tests in one process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from services.idempotency import FirstRequest, IdempotencyKeys, Response
from services.outbox import Outbox
from services.unit_of_work import UnitOfWork

K = TypeVar("K")
V = TypeVar("V")


class StagedTable(Generic[K, V]):
    """Committed rows by key, overlaid with the rows one unit of work wrote."""

    def __init__(self, committed: dict[K, V]):
        self.committed = committed
        self.pending: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self.pending[key] if key in self.pending else self.committed.get(key)

    def put(self, key: K, value: V) -> None:
        self.pending[key] = value

    def commit(self) -> None:
        self.committed.update(self.pending)
        self.pending.clear()

    def rollback(self) -> None:
        self.pending.clear()


@dataclass
class InMemoryDatabase:
    """What one service's database holds: tables by name, and the outbox in id order."""

    tables: dict[str, dict[Any, Any]] = field(default_factory=dict)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def table(self, name: str) -> dict[Any, Any]:
        return self.tables.setdefault(name, {})


class InMemoryOutbox(Outbox):
    def __init__(self, committed: list[dict[str, Any]]):
        self.committed = committed
        self.pending: list[dict[str, Any]] = []

    def add(self, event: dict[str, Any]) -> None:
        self.pending.append(event)

    def commit(self) -> None:
        self.committed.extend(self.pending)
        self.pending.clear()

    def rollback(self) -> None:
        self.pending.clear()


class InMemoryIdempotencyKeys(IdempotencyKeys):
    def __init__(self, rows: StagedTable[tuple[str, str], FirstRequest]):
        self.rows = rows

    def claim(self, user_id: str, key: str, fingerprint: str) -> FirstRequest | None:
        first = self.rows.get((user_id, key))
        if first is None:
            self.rows.put((user_id, key), FirstRequest(fingerprint, (0, {})))
        return first

    def record(self, user_id: str, key: str, response: Response) -> None:
        first = self.rows.get((user_id, key))
        assert first is not None, "record() without claim()"
        self.rows.put((user_id, key), FirstRequest(first.fingerprint, response))


class InMemoryUnitOfWork(UnitOfWork):
    """Stages writes to a service's ``InMemoryDatabase``; subclasses add their repositories."""

    def __init__(self, database: InMemoryDatabase | None = None):
        self.database = database or InMemoryDatabase()
        self._tables: list[StagedTable[Any, Any]] = []
        self.outbox = self._outbox = InMemoryOutbox(self.database.outbox)
        self.idempotency = InMemoryIdempotencyKeys(self.staged("idempotency_keys"))

    def staged(self, table: str) -> StagedTable[Any, Any]:
        """A staged view of ``table`` that commits and rolls back with this unit of work."""
        staged: StagedTable[Any, Any] = StagedTable(self.database.table(table))
        self._tables.append(staged)
        return staged

    def _staged(self) -> Iterator[StagedTable[Any, Any] | InMemoryOutbox]:
        yield from self._tables
        yield self._outbox

    def _begin(self) -> None:
        self.rollback()

    def commit(self) -> None:
        with self.database.lock:
            for staged in self._staged():
                staged.commit()

    def rollback(self) -> None:
        for staged in self._staged():
            staged.rollback()
