"""Only events their producer signed are served; anything else is a dead letter with its reason.

Messages are written with a plain kafka-python producer, as anything that reaches the broker
could write them: the broker's own access control is not what these tests rely on.
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


def order_created(user: str, signer: EventSigner | None = None) -> dict[str, Any]:
    order_id = str(uuid.uuid4())
    payload = {
        "order_id": order_id, "user_id": user, "customer_name": "Sig", "items": [],
        "channel": "api",
    }  # fmt: skip
    return make_event(
        TOPIC, aggregate_id=order_id, aggregate_version=1, payload=payload,
        meta=EventMeta(producer="orders", signer=signer),
    )  # fmt: skip


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
    keys = dev_signers(settings)  # the stack's own keys, as its services sign with
    user = f"sig-{uuid.uuid4().hex[:8]}"
    good = order_created(user, keys["orders"])
    unsigned = order_created(user)
    forged = EventSigner("orders", Ed25519PrivateKey.generate()).sign(order_created(user))
    forged[SIGNATURE]["key_id"] = keys["orders"].key_id  # claims the orders key
    tampered = order_created(user, keys["orders"])
    tampered["payload"]["customer_name"] = "Mallory"  # changed after signing
    wrong_producer = keys["invoices"].sign(order_created(user))  # a valid invoices signature
    refused = {
        "unsigned": unsigned,
        "bad signature": forged,
        "bad signature ": tampered,
        "wrong producer": wrong_producer,
    }
    publish(settings, [*refused.values(), good])

    run_ingest(settings)

    assert landed(settings, [good, *refused.values()]) == {good["event_id"]}
    for reason, event in refused.items():
        stored = dead_reason(settings, event)
        assert stored is not None and stored.startswith(reason.strip()), (reason, stored)
    dbt("run")
    publish_views(settings)
    r = read_api.get("/orders-with-invoices", params={"userId": user}, headers=auth(user))
    assert r.status_code == 200, r.text
    assert [row["orderId"] for row in r.json()] == [good["aggregate_id"]]


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
    during = [order_created(user, old_signer), order_created(user, new_signer)]
    publish(settings, during)
    run_ingest(rotating)
    assert landed(settings, during) == {e["event_id"] for e in during}

    keyset.write_bytes(jwks_bytes([new_key, *others]))  # the old key retired
    after = [order_created(user, old_signer), order_created(user, new_signer)]
    publish(settings, after)
    run_ingest(rotating)
    assert landed(settings, after) == {after[1]["event_id"]}
    reason = dead_reason(settings, after[0])
    assert reason is not None and reason.startswith("unknown signing key")
    assert old_signer.key_id in reason


def test_a_services_events_are_signed_by_its_key_and_a_republish_carries_the_same_signature(
    settings: Settings, orders: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    since = datetime.now(UTC)
    r = orders.post("/orders", json={"customer_name": "Signe"}, headers=auth("signe"))
    assert r.status_code == 201, r.text
    order_id = r.json()["order_id"]
    relay_all(settings, "orders")
    with connections.connect(settings, "orders") as conn:
        assert outbox.replay(conn, since) >= 1  # as `cqrsw outbox replay --since` does
        conn.commit()
    relay_all(settings, "orders")

    copies = find_events(settings, TOPIC, lambda e: e["aggregate_id"] == order_id, want=2)
    assert len(copies) == 2
    signatures = {orjson.dumps(event[SIGNATURE]) for _, event, _ in copies}
    assert len(signatures) == 1  # signed once, when recorded: the same on every publish
    event = copies[0][1]
    assert event[SIGNATURE]["key_id"] == dev_signers(settings)["orders"].key_id
    assert trusted_keys(settings).refusal(event) is None
    run_ingest(settings)
    assert landed(settings, [event]) == {event["event_id"]}


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
    assert {k: v for k, v in event.items() if k != SIGNATURE} == before_upgrade
    run_ingest(settings)
    assert landed(settings, [before_upgrade]) == {before_upgrade["event_id"]}
    assert dead_reason(settings, before_upgrade) is None
