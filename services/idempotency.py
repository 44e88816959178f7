"""``Idempotency-Key`` support: a retried POST with the same key gets the first response."""

from __future__ import annotations

import hashlib
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from services.errors import InvalidCommand

if TYPE_CHECKING:
    from services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

Response = tuple[int, dict[str, Any]]
PURGE_BATCH = 10_000  # keys deleted per statement: short transactions, short row locks


class KeyReused(InvalidCommand):
    """The key was already used by this user for a different request."""


@dataclass(frozen=True)
class Idempotency:
    """The ``Idempotency-Key`` of a request (None if absent) and a hash of what was sent."""

    key: str | None
    fingerprint: str


@dataclass(frozen=True)
class FirstRequest:
    """What the first request with a key sent (its fingerprint) and got back."""

    fingerprint: str
    response: Response


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()


class IdempotencyKeys(ABC):
    """The keys a unit of work claims and the responses it records, in its transaction."""

    @abstractmethod
    def claim(self, user_id: str, key: str, fingerprint: str) -> FirstRequest | None:
        """Reserve ``key`` for this request, or return the request that already holds it."""

    @abstractmethod
    def record(self, user_id: str, key: str, response: Response) -> None:
        """Store the response of the request that claimed ``key``."""


class PostgresIdempotencyKeys(IdempotencyKeys):
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def claim(self, user_id: str, key: str, fingerprint: str) -> FirstRequest | None:
        # The key row is inserted first: a concurrent retry blocks on it until the first
        # request commits, then reads the stored response instead of running the command twice.
        claimed = self.conn.execute(
            "insert into idempotency_keys (user_id, key, request_hash, status_code, response)"
            " values (%s, %s, %s, 0, '{}') on conflict do nothing returning 1",
            (user_id, key, fingerprint),
        ).fetchone()
        if claimed is not None:
            return None
        row = self.conn.execute(
            "select request_hash, status_code, response from idempotency_keys"
            " where user_id = %s and key = %s",
            (user_id, key),
        ).fetchone()
        assert row is not None
        return FirstRequest(row[0], (int(row[1]), dict(row[2])))

    def record(self, user_id: str, key: str, response: Response) -> None:
        status_code, body = response
        self.conn.execute(
            "update idempotency_keys set status_code = %s, response = %s"
            " where user_id = %s and key = %s",
            (status_code, Jsonb(body), user_id, key),
        )


def purge_expired(conn: psycopg.Connection, window_s: float) -> int:
    """Delete the keys older than the window, in batches; return how many went.

    A retry after the window runs its command again: clients retry for minutes, not days,
    and the table would otherwise grow with every POST ever made.
    """
    purged = 0
    while True:
        with conn.transaction():
            deleted = conn.execute(
                "delete from idempotency_keys where ctid = any(array("
                " select ctid from idempotency_keys"
                " where created_at < now() - make_interval(secs => %s) limit %s))",
                (window_s, PURGE_BATCH),
            ).rowcount
        purged += deleted
        if deleted < PURGE_BATCH:
            return purged


class KeyPurge:
    """Runs ``purge_expired`` every ``every_s`` on a service's pool, until stopped."""

    def __init__(self, pool: ConnectionPool, window_s: float, every_s: float):
        self.pool, self.window_s, self.every_s = pool, window_s, every_s

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.wait(self.every_s):
            try:
                with self.pool.connection() as conn:
                    purged = purge_expired(conn, self.window_s)
                if purged:
                    log.info("purged %d idempotency keys older than %s s", purged, self.window_s)
            except psycopg.Error as exc:  # the database away for a while: try next time
                log.warning("idempotency key purge failed: %s", exc)


def run_once(
    uow: UnitOfWork, *, user_id: str, request: Idempotency, action: Callable[[], Response]
) -> Response:
    """Run ``action`` and record the key in ONE unit of work, unless the key was already used.

    A refused or failed action rolls the claim back with everything else, so the same key
    may be sent again.
    """
    with uow:
        key = request.key
        if key is not None:
            first = uow.idempotency.claim(user_id, key, request.fingerprint)
            if first is not None:
                if first.fingerprint != request.fingerprint:
                    raise KeyReused(
                        "Idempotency-Key was already used for a different request", key=key
                    )
                return first.response
        response = action()
        if key is not None:
            uow.idempotency.record(user_id, key, response)
        uow.commit()
        return response
