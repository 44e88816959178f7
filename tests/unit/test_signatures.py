"""Signed envelopes: what a producer signs verifies, and every other envelope says why not."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.envelope import EventMeta, make_event, validate
from contracts.signatures import (
    SIGNATURE,
    EventSigner,
    TrustedKey,
    TrustedKeys,
    canonical_bytes,
    public_jwk,
    trusted_from_jwks,
)
from tests.support.signing import unit_signers, unit_trust


def order_created(signer: EventSigner | None = None) -> dict[str, Any]:
    order_id = str(uuid.uuid4())
    payload = {
        "order_id": order_id, "user_id": "u", "customer_name": "C", "items": [], "channel": "web",
    }  # fmt: skip
    return make_event(
        "order.created", aggregate_id=order_id, aggregate_version=1, payload=payload,
        meta=EventMeta(producer="orders", signer=signer),
    )  # fmt: skip


def test_an_event_signed_by_its_producer_verifies_and_stays_contract_valid() -> None:
    event = order_created(unit_signers()["orders"])
    assert event[SIGNATURE]["key_id"] == unit_signers()["orders"].key_id
    assert validate(event) is event
    assert unit_trust().refusal(event) is None


def test_the_signature_survives_a_json_round_trip_in_another_key_order() -> None:
    # The outbox keeps the envelope as jsonb, which orders keys its own way.
    event = order_created(unit_signers()["orders"])
    reordered = dict(reversed(list(orjson.loads(orjson.dumps(event)).items())))
    assert list(reordered) != list(event)
    assert unit_trust().refusal(reordered) is None
    assert canonical_bytes(reordered) == canonical_bytes(event)


def test_an_unsigned_event_is_refused() -> None:
    refusal = unit_trust().refusal(order_created())
    assert refusal is not None and refusal.startswith("unsigned")


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e["payload"].update(customer_name="Mallory"),
        lambda e: e.update(aggregate_version=2),
        lambda e: e.update(request_id="another"),
        lambda e: e["trace"].update(tracestate="x=1"),
    ],
)
def test_a_change_after_signing_is_a_bad_signature(change: Any) -> None:
    event = orjson.loads(orjson.dumps(order_created(unit_signers()["orders"])))
    change(event)
    refusal = unit_trust().refusal(event)
    assert refusal is not None and refusal.startswith("bad signature")


def test_a_forged_signature_under_a_trusted_key_id_is_a_bad_signature() -> None:
    forger = EventSigner("orders", Ed25519PrivateKey.generate())
    event = forger.sign(order_created())
    event[SIGNATURE]["key_id"] = unit_signers()["orders"].key_id  # claims the real key
    refusal = unit_trust().refusal(event)
    assert refusal is not None and refusal.startswith("bad signature")


def test_a_key_nobody_trusts_is_refused_by_its_id() -> None:
    stranger = EventSigner("orders", Ed25519PrivateKey.generate())
    refusal = unit_trust().refusal(order_created(stranger))
    assert refusal is not None and refusal.startswith("unknown signing key")
    assert stranger.key_id in refusal


def test_another_producers_key_is_the_wrong_producer_even_with_a_valid_signature() -> None:
    event = unit_signers()["invoices"].sign(order_created())
    refusal = unit_trust().refusal(event)
    assert refusal is not None and refusal.startswith("wrong producer")
    assert "invoices" in refusal and "order.created" in refusal


def test_an_envelope_naming_another_producer_is_the_wrong_producer() -> None:
    event = unit_signers()["orders"].sign({**order_created(), "producer": "stock"})
    refusal = unit_trust().refusal(event)
    assert refusal is not None and refusal.startswith("wrong producer")


def test_a_malformed_signature_value_is_a_bad_signature_not_an_error() -> None:
    event = order_created(unit_signers()["orders"])
    event[SIGNATURE]["value"] = "A" * 86  # decodes, but is no signature of this envelope
    refusal = unit_trust().refusal(event)
    assert refusal is not None and refusal.startswith("bad signature")


@pytest.mark.parametrize("value", ["A" * 10, "A" * 90, "", "not base64 at all!"])
def test_a_signature_of_the_wrong_length_is_a_bad_signature_not_an_error(value: str) -> None:
    event = order_created(unit_signers()["orders"])
    event[SIGNATURE]["value"] = value
    refusal = unit_trust().refusal(event)
    assert refusal is not None and refusal.startswith("bad signature")


def test_two_keys_of_a_producer_are_trusted_at_once_during_a_rotation() -> None:
    old, new = (EventSigner("orders", Ed25519PrivateKey.generate()) for _ in range(2))
    both = TrustedKeys(TrustedKey("orders", s.key.public_key()) for s in (old, new))
    assert both.refusal(order_created(old)) is None
    assert both.refusal(order_created(new)) is None
    only_new = TrustedKeys([TrustedKey("orders", new.key.public_key())])
    refusal = only_new.refusal(order_created(old))
    assert refusal is not None and refusal.startswith("unknown signing key")


def test_a_jwk_set_round_trips_and_a_wrong_kid_or_key_type_is_refused() -> None:
    trusted = [TrustedKey(s.producer, s.key.public_key()) for s in unit_signers().values()]
    keys = trusted_from_jwks({"keys": [public_jwk(k) for k in trusted]})
    assert set(keys.by_id) == {k.key_id for k in trusted}
    jwk = public_jwk(trusted[0])
    with pytest.raises(ValueError, match="kid does not match"):
        trusted_from_jwks({"keys": [{**jwk, "kid": "0" * 16}]})
    with pytest.raises(ValueError, match="only OKP Ed25519"):
        trusted_from_jwks({"keys": [{**jwk, "crv": "X25519"}]})
    with pytest.raises(ValueError, match="unknown producer"):
        trusted_from_jwks({"keys": [{**jwk, "producer": "mallory"}]})
    with pytest.raises(ValueError, match="listed twice"):
        trusted_from_jwks({"keys": [jwk, jwk]})
