"""Realistic events for benchmarks and tests: the shapes the services produce."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.catalog import PRODUCER_OF
from contracts.envelope import EventMeta, make_event
from contracts.signatures import EventSigner
from services.outbox import BATCH_SIZE

MIX = (
    ("order.created", 0.4),
    ("invoice.created", 0.3),
    ("order.cancelled", 0.1),
    ("stock.updated", 0.2),
)


def event_stream(
    count: int,
    *,
    seed: int = 7,
    namespace: str = "",
    signers: Mapping[str, EventSigner] | None = None,
) -> Iterator[dict[str, Any]]:
    """``count`` valid envelopes in a plausible mix; orders come before their invoices.

    With ``signers`` (producer -> key, e.g. ``contracts.key_files.dev_signers``) they are
    signed as the services' relays sign theirs (``relay_signed``); the ingest refuses
    unsigned ones.

    Stock versions start at 1 per product in each stream: give streams that share a
    warehouse different ``namespace``s, so their products differ.
    """
    if signers is not None:
        yield from relay_signed(event_stream(count, seed=seed, namespace=namespace), signers)
        return
    rng = random.Random(f"{seed}/{namespace}")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    orders: list[str] = []
    stock_versions: dict[str, int] = {}
    topics = [t for t, _ in MIX]
    weights = [w for _, w in MIX]
    for i in range(count):
        kind: str = rng.choices(topics, weights)[0]
        if kind != "order.created" and kind != "stock.updated" and not orders:
            kind = "order.created"
        at = start + timedelta(seconds=i)
        meta = EventMeta(
            producer=PRODUCER_OF[kind],
            request_id=str(uuid.UUID(int=rng.getrandbits(128))),
            traceparent=f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01",
        )
        event_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        if kind == "order.created":
            order_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            orders.append(order_id)
            payload: dict[str, Any] = {
                "order_id": order_id,
                "user_id": f"user-{rng.randrange(5000)}",
                "customer_name": rng.choice(
                    ["Alice Anderson", "Bob Brown", "Chen Wei", "Dana Ortiz"]
                ),
                "items": [
                    {
                        "product_id": f"sku-{namespace}{rng.randrange(500)}",
                        "quantity": rng.randint(1, 5),
                    }
                    for _ in range(rng.randint(1, 3))
                ],
                "channel": rng.choice(["web", "api"]),
            }
            yield make_event(kind, aggregate_id=order_id, aggregate_version=1, payload=payload,
                             meta=meta, occurred_at=at, event_id=event_id)  # fmt: skip
        elif kind == "invoice.created":
            invoice_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            payload = {
                "invoice_id": invoice_id,
                "order_id": rng.choice(orders),
                "invoice_url": f"https://invoices.example.com/{invoice_id}.pdf",
            }
            yield make_event(kind, aggregate_id=invoice_id, aggregate_version=1, payload=payload,
                             meta=meta, occurred_at=at, event_id=event_id)  # fmt: skip
        elif kind == "order.cancelled":
            order_id = rng.choice(orders)
            payload = {"order_id": order_id, "reason": rng.choice([None, "changed my mind"])}
            yield make_event(kind, aggregate_id=order_id, aggregate_version=2, payload=payload,
                             meta=meta, occurred_at=at, event_id=event_id)  # fmt: skip
        else:
            product = f"sku-{namespace}{rng.randrange(500)}"
            version = stock_versions[product] = stock_versions.get(product, 0) + 1
            payload = {
                "product_id": product, "operation": "increase", "stock_amount": rng.randint(1, 20)
            }  # fmt: skip
            yield make_event(kind, aggregate_id=product, aggregate_version=version, payload=payload,
                             meta=meta, occurred_at=at, event_id=event_id)  # fmt: skip


def relay_signed(
    events: Iterable[dict[str, Any]],
    signers: Mapping[str, EventSigner],
    batch_size: int = BATCH_SIZE,
) -> Iterator[dict[str, Any]]:
    """``events`` signed as each producer's outbox relay signs them: per producer, in batches
    of the relay's size, one signature per batch. Each producer's events keep their order."""
    pending: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        batch = pending.setdefault(event["producer"], [])
        batch.append(event)
        if len(batch) == batch_size:
            yield from signers[event["producer"]].sign_batch(batch)
            batch.clear()
    for producer, batch in pending.items():
        yield from signers[producer].sign_batch(batch)
