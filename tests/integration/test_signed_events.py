"""Only events their producer signed are served; anything else is a dead letter with its reason.

Messages are written with a plain kafka-python producer, as anything that reaches the broker
could write them: the broker's own access control is not what these tests rely on. Signed
ones are signed as the relays sign (one signature per batch, each message with its proof),
or with the per-event signature of before, which the ingest still takes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from config.settings import Settings
from contracts.envelope import EventMeta, make_event
from contracts.key_files import (
    dev_signers,
    jwks_bytes,
    load_signer,
    new_key_file,
    trusted_keys,
)
from contracts.signatures import SIGNATURE, EventSigner, TrustedKey
from database import connections
from database.names import WAREHOUSE_DATABASE
from ingest.job import run_ingest
from pipeline.publish import publish_views
from services import outbox
from tests.support.dbt_in_process import InProcessDbt
from tests.support.kafka_reader import find_events
from tests.support.relay import relay_all

TOPIC = "order.created"


def order_created(user: str) -> dict[str, Any]:
    order_id = str(uuid.uuid4())
    payload = {
        "order_id": order_id, "user_id": user, "customer_name": "Sig", "items": [],
        "channel": "api",
    }  # fmt: skip
    return make_event(
        TOPIC, aggregate_id=order_id, aggregate_version=1, payload=payload,
        meta=EventMeta(producer="orders"),
    )  # fmt: skip


def batch(user: str, signer: EventSigner, size: int = 3) -> list[dict[str, Any]]:
    """A relay's publish batch of ``size`` new orders of ``user``."""
    return signer.sign_batch([order_created(user) for _ in range(size)])


def publish(settings: Settings, events: list[dict[str, Any]]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    for event in events:
        producer.send(TOPIC, key=event["aggregate_id"].encode(), value=orjson.dumps(event))
    producer.flush()
    producer.close()


def landed(settings: Settings, events: list[dict[str, Any]]) -> set[str]:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        rows = conn.execute(
            "select event_id::text from raw.order_created where event_id = any(%s::uuid[])",
            ([e["event_id"] for e in events],),
        ).fetchall()
    return {r[0] for r in rows}


def dead_reason(settings: Settings, event: dict[str, Any]) -> str | None:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        row = conn.execute(
            "select reason from raw.dead_letter_events where kafka_topic = %s"
            " and message_key = %s order by id desc limit 1",
            (TOPIC, event["aggregate_id"].encode()),
        ).fetchone()
    return str(row[0]) if row else None


def test_unsigned_forged_tampered_and_wrong_producer_events_are_dead_letters_never_served(
    settings: Settings, dbt: InProcessDbt, read_api: TestClient,
    auth: Callable[[str], dict[str, str]],
) -> None:  # fmt: skip
    keys = dev_signers(settings)  # the stack's own keys, as its relays sign with
    user = f"sig-{uuid.uuid4().hex[:8]}"
    good, other_batch = batch(user, keys["orders"]), batch(user, keys["orders"])
    old_form = keys["orders"].sign(order_created(user))  # per event, from before batches
    forged = batch(user, EventSigner("orders", Ed25519PrivateKey.generate()), 2)[0]
    forged[SIGNATURE]["key_id"] = keys["orders"].key_id  # claims the orders key
    tampered = batch(user, keys["orders"])[1]
    tampered["payload"]["customer_name"] = "Mallory"  # changed after signing
    bad_path = batch(user, keys["orders"])[2]
    bad_path[SIGNATURE]["path"] = bad_path[SIGNATURE]["path"][::-1]  # the proof altered
    moved = {**order_created(user), SIGNATURE: other_batch[0][SIGNATURE]}  # another's root
    old_forged = EventSigner("orders", Ed25519PrivateKey.generate()).sign(order_created(user))
    old_forged[SIGNATURE]["key_id"] = keys["orders"].key_id
    refused = {
        "unsigned": order_created(user),
        "bad signature": forged,
        "bad signature ": old_forged,
        "bad proof": tampered,
        "bad proof ": bad_path,
        "bad proof  ": moved,
        "wrong producer": keys["invoices"].sign_batch([order_created(user)])[0],
        "wrong producer ": keys["invoices"].sign(order_created(user)),
        "unknown signing key": batch(user, EventSigner("orders", Ed25519PrivateKey.generate()))[0],
    }
    served = [*good, *other_batch, old_form]
    publish(settings, [*refused.values(), *served])

    run_ingest(settings)

    assert landed(settings, [*served, *refused.values()]) == {e["event_id"] for e in served}
    for reason, event in refused.items():
        stored = dead_reason(settings, event)
        assert stored is not None and stored.startswith(reason.strip()), (reason, stored)
    dbt("run")
    publish_views(settings)
    r = read_api.get("/orders-with-invoices", params={"userId": user}, headers=auth(user))
    assert r.status_code == 200, r.text
    assert sorted(row["orderId"] for row in r.json()) == sorted(e["aggregate_id"] for e in served)


def test_both_keys_are_accepted_during_a_rotation_and_the_retired_one_no_longer(
    settings: Settings, tmp_path: Path
) -> None:
    old_key = new_key_file(tmp_path / "orders-old.pem", "orders")
    new_key = new_key_file(tmp_path / "orders-new.pem", "orders")
    others = [
        TrustedKey(s.producer, s.key.public_key())
        for s in dev_signers(settings).values()
        if s.producer != "orders"
    ]
    keyset = tmp_path / "trusted.jwks.json"
    keyset.write_bytes(jwks_bytes([old_key, new_key, *others]))
    rotating = settings.model_copy(update={"event_trusted_keys_file": keyset})
    old_signer = load_signer(tmp_path / "orders-old.pem", "orders")
    new_signer = load_signer(tmp_path / "orders-new.pem", "orders")
    user = f"rot-{uuid.uuid4().hex[:8]}"
    during = [*batch(user, old_signer), *batch(user, new_signer)]
    publish(settings, during)
    run_ingest(rotating)
    assert landed(settings, during) == {e["event_id"] for e in during}

    keyset.write_bytes(jwks_bytes([new_key, *others]))  # the old key retired
    old_after, new_after = batch(user, old_signer), batch(user, new_signer)
    publish(settings, [*old_after, *new_after])
    run_ingest(rotating)
    assert landed(settings, [*old_after, *new_after]) == {e["event_id"] for e in new_after}
    for event in old_after:
        reason = dead_reason(settings, event)
        assert reason is not None and reason.startswith("unknown signing key")
        assert old_signer.key_id in reason


def test_a_services_events_leave_its_relay_batch_signed_by_its_key_and_so_does_a_republish(
    settings: Settings, orders: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    since = datetime.now(UTC)
    order_ids = []
    for _ in range(3):
        r = orders.post("/orders", json={"customer_name": "Signe"}, headers=auth("signe"))
        assert r.status_code == 201, r.text
        order_ids.append(r.json()["order_id"])
    with connections.connect(settings, "orders") as conn:
        recorded = conn.execute(
            "select event from outbox where message_key = any(%s)", (order_ids,)
        ).fetchall()
    assert len(recorded) == 3 and all(SIGNATURE not in e for (e,) in recorded)  # at write
    relay_all(settings, "orders")
    with connections.connect(settings, "orders") as conn:
        assert outbox.replay(conn, since) >= 3  # as `cqrsw outbox replay --since` does
        conn.commit()
    relay_all(settings, "orders")

    copies = find_events(settings, TOPIC, lambda e: e["aggregate_id"] in order_ids, want=6)
    assert len(copies) == 6
    trust = trusted_keys(settings)
    for _, event, _ in copies:
        assert event[SIGNATURE]["version"] == 2
        assert event[SIGNATURE]["key_id"] == dev_signers(settings)["orders"].key_id
        assert trust.refusal(event) is None
    # One root per relay batch (the same rows again, as here, make the same batch: Ed25519
    # is deterministic), each order at its own leaf of it.
    leaves = {
        (e[SIGNATURE]["root"], e[SIGNATURE]["index"], e["aggregate_id"]) for _, e, _ in copies
    }
    assert len({root for root, _, _ in leaves}) <= 2
    assert len({(root, index) for root, index, _ in leaves}) == len(leaves)
    run_ingest(settings)
    assert landed(settings, [e for _, e, _ in copies]) == {e["event_id"] for _, e, _ in copies}


def test_an_unsigned_event_left_in_an_outbox_at_the_upgrade_is_signed_as_it_leaves(
    settings: Settings,
) -> None:
    """Recorded before the services signed events: published signed, served, no dead letter."""
    user = f"old-{uuid.uuid4().hex[:8]}"
    before_upgrade = order_created(user)  # no signer: as the outbox kept it
    with connections.connect(settings, "orders") as conn:
        outbox.PostgresOutbox(conn).add(before_upgrade)
        conn.commit()
    relay_all(settings, "orders")

    sent = find_events(
        settings, TOPIC, lambda e: e["event_id"] == before_upgrade["event_id"], want=1
    )
    assert len(sent) == 1
    event = sent[0][1]
    assert event[SIGNATURE]["key_id"] == dev_signers(settings)["orders"].key_id
    assert event[SIGNATURE]["version"] == 2
    assert {k: v for k, v in event.items() if k != SIGNATURE} == before_upgrade
    run_ingest(settings)
    assert landed(settings, [before_upgrade]) == {before_upgrade["event_id"]}
    assert dead_reason(settings, before_upgrade) is None
