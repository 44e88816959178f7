"""``Idempotency-Key`` support: a retried POST with the same key gets the first response."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from services.errors import DomainError

IDEMPOTENCY_DDL = """
create table if not exists idempotency_keys (
    user_id      text not null,
    key          text not null,
    request_hash text not null,
    status_code  int not null,
    response     jsonb not null,
    created_at   timestamptz not null default now(),
    primary key (user_id, key)
);
"""

Response = tuple[int, dict[str, Any]]


class KeyReused(DomainError):
    status_code = 422


@dataclass(frozen=True)
class Idempotency:
    """The ``Idempotency-Key`` of a request (None if absent) and a hash of what was sent."""

    key: str | None
    fingerprint: str


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()


def run_once(
    conn: psycopg.Connection,
    *,
    user_id: str,
    request: Idempotency,
    action: Callable[[], Response],
) -> Response:
    """Run ``action`` and record the key in ONE transaction, unless the key was already used.

    The key row is inserted first: a concurrent retry blocks on it until the first request
    commits, then reads the stored response instead of running the command twice. Inside an
    open transaction this is a savepoint of it.
    """
    with conn.transaction():
        return _run_once(conn, user_id, request, action)


def _run_once(
    conn: psycopg.Connection, user_id: str, request: Idempotency, action: Callable[[], Response]
) -> Response:
    key = request.key
    if key is None:
        return action()
    claimed = conn.execute(
        "insert into idempotency_keys (user_id, key, request_hash, status_code, response)"
        " values (%s, %s, %s, 0, '{}') on conflict do nothing returning 1",
        (user_id, key, request.fingerprint),
    ).fetchone()
    if claimed is None:
        row = conn.execute(
            "select request_hash, status_code, response from idempotency_keys"
            " where user_id = %s and key = %s",
            (user_id, key),
        ).fetchone()
        assert row is not None
        if row[0] != request.fingerprint:
            raise KeyReused("Idempotency-Key was already used for a different request", key=key)
        return int(row[1]), dict(row[2])
    status_code, body = action()
    conn.execute(
        "update idempotency_keys set status_code = %s, response = %s"
        " where user_id = %s and key = %s",
        (status_code, Jsonb(body), user_id, key),
    )
    return status_code, body
