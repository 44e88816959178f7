"""Stock service layer: load, decide, append with optimistic concurrency, outbox, snapshot."""

from __future__ import annotations

import random
import time

import psycopg
from psycopg import errors

from contracts.envelope import EventMeta, envelope
from services import outbox
from services.errors import DomainError
from services.idempotency import Idempotency, Response, run_once
from services.stock import domain, store


class TooMuchContention(DomainError):
    status_code = 503


def change_stock(
    conn: psycopg.Connection,
    cmd: domain.ChangeStock,
    meta: EventMeta,
    idem: Idempotency,
    *,
    user_id: str,
    snapshot_every: int,
    max_attempts: int = 200,
) -> Response:
    """Append one operation; on a version race, reload and decide again (up to ``max_attempts``)."""

    def action() -> Response:
        state = store.load(conn, cmd.product_id)
        op, recorded = domain.decide(state, cmd)
        event = envelope(recorded, meta)
        store.append(
            conn,
            cmd.product_id,
            op,
            event_id=event["event_id"],
            occurred_at=event["occurred_at"],
            request_id=meta.request_id,
        )
        outbox.add(conn, event)
        new_state = domain.apply(state, op)
        if new_state.version % snapshot_every == 0:
            store.save_snapshot(conn, new_state)
        return 201, {
            "product_id": cmd.product_id,
            "operation": op.operation,
            "amount": op.amount,
            "stock": new_state.stock,
            "version": new_state.version,
        }

    for attempt in range(max_attempts):
        try:
            return run_once(conn, user_id=user_id, request=idem, action=action)
        except errors.UniqueViolation as exc:
            if exc.diag.constraint_name != store.VERSION_CONFLICT:
                raise
            # Someone else appended this version first: back off a little and decide again.
            time.sleep(random.uniform(0, 0.001 * min(attempt + 1, 20)))
    raise TooMuchContention(
        "too many concurrent changes to this product; retry", product_id=cmd.product_id
    )
