"""The unit of work a handler is given: one transaction over repositories, outbox and keys.

As in Cosmic Python: ``with uow: ... uow.commit()``; leaving the block without ``commit()``
(or with an error) rolls everything back, so state, outbox rows and idempotency records are
kept together or not at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

import psycopg
from psycopg.pq import TransactionStatus

from services.idempotency import IdempotencyKeys, PostgresIdempotencyKeys
from services.outbox import Outbox, PostgresOutbox


class UnitOfWork(ABC):
    outbox: Outbox
    idempotency: IdempotencyKeys

    def __enter__(self) -> Self:
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()  # after commit() there is nothing left to roll back

    @abstractmethod
    def _begin(self) -> None: ...

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...


class PostgresUnitOfWork(UnitOfWork):
    """A transaction on one connection of the service's database."""

    def __init__(self, conn: psycopg.Connection):
        # The unit of work opens and ends its own transactions; an implicit one would hide them.
        if not conn.autocommit:
            raise ValueError("a unit of work needs an autocommit connection")
        self.conn = conn
        self.outbox = PostgresOutbox(conn)
        self.idempotency = PostgresIdempotencyKeys(conn)

    def _begin(self) -> None:
        self.conn.execute("begin")

    def commit(self) -> None:
        self.conn.execute("commit")

    def rollback(self) -> None:
        if self.conn.info.transaction_status != TransactionStatus.IDLE:
            self.conn.execute("rollback")
