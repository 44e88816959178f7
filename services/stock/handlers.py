"""Stock service layer: load, decide, append with optimistic concurrency, outbox, snapshot."""

from __future__ import annotations

import random
import time

from contracts.envelope import EventMeta
from services.errors import Unavailable
from services.events import envelope
from services.idempotency import Idempotency, Response, run_once
from services.position import POSITION, payload_of
from services.stock import domain
from services.stock.repository import VersionConflict
from services.stock.unit_of_work import StockUnitOfWork


class TooMuchContention(Unavailable):
    """Every attempt lost the race for the product's next version."""


def change_stock(
    uow: StockUnitOfWork,
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
        state = uow.stock.load(cmd.product_id)
        op, event = domain.decide(state, cmd)
        recorded = envelope(event, meta)
        uow.stock.append(
            cmd.product_id,
            op,
            event_id=recorded["event_id"],
            occurred_at=recorded["occurred_at"],
            request_id=meta.request_id,
        )
        uow.outbox.add(recorded)
        new_state = domain.apply(state, op)
        if new_state.version % snapshot_every == 0:
            uow.stock.save_snapshot(new_state)
        return 201, {
            "product_id": cmd.product_id,
            "operation": op.operation,
            "stock_amount": op.amount,
            "amount": op.amount,  # the name before 2026-12-06, kept for older clients
            "stock": new_state.stock,
            "version": new_state.version,
            POSITION: payload_of(recorded),
        }

    for attempt in range(max_attempts):
        try:
            return run_once(uow, user_id=user_id, request=idem, action=action)
        except VersionConflict:
            # Someone else appended this version first: back off a little and decide again.
            time.sleep(random.uniform(0, 0.001 * min(attempt + 1, 20)))
    raise TooMuchContention(
        "too many concurrent changes to this product; retry", product_id=cmd.product_id
    )
