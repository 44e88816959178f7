"""Signed envelopes: what a producer signs verifies, and every other envelope says why not.

Version 2 (what the outbox relay writes): one signature per batch over a Merkle root, each
envelope carrying its proof. Version 1 (one signature per envelope) is still accepted.
"""

from __future__ import annotations

import base64
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
    group_root,
    leaf_hash,
    merkle_tree,
    node_hash,
    public_jwk,
    root_from_path,
    trusted_from_jwks,
)
from tests.support.signing import unit_signers, unit_trust


def order_created() -> dict[str, Any]:
    order_id = str(uuid.uuid4())
    payload = {
        "order_id": order_id, "user_id": "u", "customer_name": "C", "items": [], "channel": "web",
    }  # fmt: skip
    return make_event(
        "order.created", aggregate_id=order_id, aggregate_version=1, payload=payload,
        meta=EventMeta(producer="orders"),
    )  # fmt: skip


def batch(size: int, signer: EventSigner | None = None) -> list[dict[str, Any]]:
    """A relay's batch of ``size`` order.created events, as they leave (a JSON round trip)."""
    signed = (signer or unit_signers()["orders"]).sign_batch([order_created() for _ in range(size)])
    return [orjson.loads(orjson.dumps(e)) for e in signed]


def refused(event: dict[str, Any], trust: TrustedKeys | None = None) -> str:
    refusal = (trust or TrustedKeys(unit_trust().by_id.values())).refusal(event)
    assert refusal is not None, "accepted"
    return refusal


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- the Merkle tree -------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 500])
def test_every_leafs_path_leads_to_the_root_and_no_other_leaf_or_index_does(size: int) -> None:
    leaves = [bytes([i % 256, i // 256]) * 16 for i in range(size)]
    root, paths = merkle_tree(leaves)
    for i, path in enumerate(paths):
        assert len(path) <= (size - 1).bit_length()
        assert root_from_path(leaves[i], i, size, path) == root
        assert root_from_path(leaves[(i + 1) % size], i, size, path) != root or size == 1
        if size > 1:
            assert root_from_path(leaves[i], (i + 1) % size, size, path) != root
    assert root_from_path(leaves[0], size, size, paths[0]) is None  # index past the end


def test_an_inner_node_cannot_pass_for_a_leaf_of_a_smaller_tree() -> None:
    leaves = [bytes([i]) * 32 for i in range(4)]
    root, _ = merkle_tree(leaves)
    left, right = node_hash(leaves[0], leaves[1]), node_hash(leaves[2], leaves[3])
    assert node_hash(left, right) == root
    # Presented as a leaf, an inner node is hashed as a leaf (0x00 prefix): not the root.
    assert leaf_hash({"x": left.hex()}) != left
    assert root_from_path(leaf_hash({"x": left.hex()}), 0, 2, [right]) != root


# -- version 2: one signature per batch -------------------------------------------------


def test_every_envelope_of_a_batch_verifies_alone_with_one_signature_check() -> None:
    trust = TrustedKeys(unit_trust().by_id.values())
    events = batch(7)
    assert {e[SIGNATURE]["version"] for e in events} == {2}
    assert {e[SIGNATURE]["value"] for e in events} == {events[0][SIGNATURE]["value"]}
    for event in events:
        assert validate(event) is event
        assert trust.refusal(event) is None
    assert len(trust.verified_roots) == 1  # the root's signature was checked once


def test_the_proof_survives_a_json_round_trip_in_another_key_order() -> None:
    event = batch(3)[1]
    reordered = dict(reversed(list(event.items())))
    reordered["payload"] = dict(reversed(list(event["payload"].items())))
    assert list(reordered) != list(event)
    assert unit_trust().refusal(reordered) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e["payload"].update(customer_name="Mallory"),
        lambda e: e.update(aggregate_version=2),
        lambda e: e.update(request_id="another"),
        lambda e: e["trace"].update(tracestate="x=1"),
    ],
)
def test_a_change_after_signing_is_a_bad_proof(change: Any) -> None:
    event = batch(5)[2]
    change(event)
    assert refused(event).startswith("bad proof")


@pytest.mark.parametrize(
    "alter",
    [
        lambda s: s.update(path=b64(bytes([unb64(s["path"])[0] ^ 1]) + unb64(s["path"])[1:])),
        lambda s: s.update(path=b64(unb64(s["path"])[32:])),  # a hash left out
        lambda s: s.update(path=s["path"] + b64(bytes(32))),  # one too many
        lambda s: s.update(path=s["path"][:-1]),  # not whole hashes
        lambda s: s.update(index=s["index"] + 1),
        lambda s: s.update(size=2, index=0),
        lambda s: s.update(root=b64(bytes(32))),
        lambda s: s.pop("path"),
        lambda s: s.update(index=1.0),
    ],
)
def test_an_altered_proof_is_a_bad_proof_never_an_error(alter: Any) -> None:
    event = batch(6)[1]
    alter(event[SIGNATURE])
    assert refused(event).startswith("bad proof")


@pytest.mark.parametrize("size", [5, 7, 8])
def test_a_changed_batch_size_is_refused_since_the_roots_signature_covers_it(size: int) -> None:
    # Some paths fold to the same root in a tree of another size (RFC 9162): the size is
    # bound by the signature, so the refusal is then a bad signature rather than a bad proof.
    event = batch(6)[1]
    event[SIGNATURE]["size"] = size
    assert refused(event).startswith(("bad proof", "bad signature"))


def test_an_envelope_with_another_batchs_root_and_signature_is_a_bad_proof() -> None:
    ours, theirs = batch(4), batch(4)
    moved = {**ours[2], SIGNATURE: theirs[2][SIGNATURE]}
    trust = TrustedKeys(unit_trust().by_id.values())
    assert trust.refusal(theirs[0]) is None  # that root is known good
    assert refused(moved, trust).startswith("bad proof")


def test_a_forged_batch_under_a_trusted_key_id_is_a_bad_signature_and_never_remembered() -> None:
    forger = EventSigner("orders", Ed25519PrivateKey.generate())
    trust = TrustedKeys(unit_trust().by_id.values())
    for event in batch(3, forger):
        event[SIGNATURE]["key_id"] = unit_signers()["orders"].key_id  # claims the real key
        assert refused(event, trust).startswith("bad signature")
    assert not trust.verified_roots


def test_a_signature_value_that_is_no_signature_is_a_bad_signature() -> None:
    for value in ("A" * 86, "A" * 10, ""):
        event = batch(2)[0]
        event[SIGNATURE]["value"] = value
        assert refused(event).startswith("bad signature")


def test_verified_roots_are_kept_up_to_a_bound() -> None:
    trust = TrustedKeys(unit_trust().by_id.values(), roots_kept=2)
    batches = [batch(2) for _ in range(3)]
    for events in batches:
        assert trust.refusal(events[0]) is None
    assert len(trust.verified_roots) == 2
    assert trust.refusal(batches[0][1]) is None  # forgotten, so checked again: still good


@pytest.mark.parametrize(
    "alter",
    [
        lambda s: s.update(path=s["path"][:-43] + b64(bytes(32))),  # the top of the path
        lambda s: s.update(path=b64(unb64(s["path"]) + bytes(32))),  # one hash too many
        lambda s: s.update(path=b64(bytes(32) + unb64(s["path"])[32:])),  # not its neighbour
        lambda s: s.update(index=s["index"] + 2),  # its neighbours' proofs would place it
        lambda s: s.update(root=b64(bytes(32))),
    ],
)
def test_an_envelope_checked_with_its_batch_gets_the_answer_it_gets_alone(alter: Any) -> None:
    # Folded together, the neighbours' leaves stand in for the hashes of each other's paths;
    # every path is still compared to its end, so a changed one is refused as it is alone.
    events = batch(8)
    alter(events[1][SIGNATURE])
    alone = refused(events[1])
    assert alone.startswith("bad proof")
    trust = TrustedKeys(unit_trust().by_id.values())
    assert trust.refusals(events) == [None, alone, *[None] * 6]


def test_a_batch_checked_together_hashes_each_inner_node_once() -> None:
    # 33 leaves: 32 inner nodes, and the last leaf moves up alone through five levels.
    events = batch(33)
    leaves = [(i, leaf_hash(e), unb64(e[SIGNATURE]["path"])) for i, e in enumerate(events)]
    root, _ = merkle_tree([leaf for _, leaf, _ in leaves])
    assert group_root(leaves, 33) == root
    assert group_root(leaves[5:20], 33) == root  # part of it: the rest from their paths
    assert group_root(leaves[32:], 33) == root
    swapped = [leaves[0], (1, leaves[1][1], leaves[2][2]), *leaves[2:]]
    assert group_root(swapped, 33) is None
    # Paths that all agree, but on one hash too many: each one alone is too long.
    assert group_root([(i, leaf, path + bytes(32)) for i, leaf, path in leaves], 33) is None


def test_a_batch_split_over_calls_or_claimed_twice_is_answered_as_alone() -> None:
    events = batch(5)
    trust = TrustedKeys(unit_trust().by_id.values())
    assert trust.refusals(events[:2]) == [None, None]
    assert trust.refusals(events[2:]) == [None, None, None]
    impostor = {**events[3], "aggregate_version": 2}  # index 3 claimed twice
    assert trust.refusals([events[3], impostor, events[3]]) == [None, refused(impostor), None]


def test_a_batch_signed_by_another_producers_key_is_the_wrong_producer() -> None:
    event = unit_signers()["invoices"].sign_batch([order_created()])[0]
    refusal = refused(event)
    assert refusal.startswith("wrong producer")
    assert "invoices" in refusal and "order.created" in refusal


def test_a_batch_key_nobody_trusts_is_refused_by_its_id() -> None:
    stranger = EventSigner("orders", Ed25519PrivateKey.generate())
    refusal = refused(batch(2, stranger)[0])
    assert refusal.startswith("unknown signing key") and stranger.key_id in refusal


def test_two_keys_of_a_producer_are_trusted_at_once_during_a_rotation() -> None:
    old, new = (EventSigner("orders", Ed25519PrivateKey.generate()) for _ in range(2))
    both = TrustedKeys(TrustedKey("orders", s.key.public_key()) for s in (old, new))
    assert both.refusal(batch(3, old)[0]) is None
    assert both.refusal(batch(3, new)[2]) is None
    assert both.refusal(old.sign(order_created())) is None  # version 1 too
    only_new = TrustedKeys([TrustedKey("orders", new.key.public_key())])
    assert refused(batch(3, old)[1], only_new).startswith("unknown signing key")


# -- refusals before any signature is checked -------------------------------------------


def test_an_unsigned_event_is_refused() -> None:
    assert refused(order_created()).startswith("unsigned")


def test_an_envelope_naming_another_producer_is_the_wrong_producer() -> None:
    event = unit_signers()["orders"].sign_batch([{**order_created(), "producer": "stock"}])[0]
    assert refused(event).startswith("wrong producer")


# -- version 1: one signature per envelope (still on the broker at the upgrade) ----------


def test_a_version_1_signature_still_verifies_and_stays_contract_valid() -> None:
    event = unit_signers()["orders"].sign(order_created())
    assert "version" not in event[SIGNATURE]
    assert validate(event) is event
    assert unit_trust().refusal(event) is None


def test_a_version_1_signature_survives_a_json_round_trip_in_another_key_order() -> None:
    event = unit_signers()["orders"].sign(order_created())
    reordered = dict(reversed(list(orjson.loads(orjson.dumps(event)).items())))
    assert list(reordered) != list(event)
    assert unit_trust().refusal(reordered) is None
    assert canonical_bytes(reordered) == canonical_bytes(event)


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e["payload"].update(customer_name="Mallory"),
        lambda e: e.update(aggregate_version=2),
        lambda e: e.update(request_id="another"),
        lambda e: e["trace"].update(tracestate="x=1"),
        lambda e: e[SIGNATURE].update(index=0),  # members of a proof, without its version
    ],
)
def test_a_change_after_version_1_signing_is_a_bad_signature(change: Any) -> None:
    event = orjson.loads(orjson.dumps(unit_signers()["orders"].sign(order_created())))
    change(event)
    assert refused(event).startswith("bad signature")


def test_a_forged_version_1_signature_under_a_trusted_key_id_is_a_bad_signature() -> None:
    forger = EventSigner("orders", Ed25519PrivateKey.generate())
    event = forger.sign(order_created())
    event[SIGNATURE]["key_id"] = unit_signers()["orders"].key_id  # claims the real key
    assert refused(event).startswith("bad signature")


def test_a_version_1_key_nobody_trusts_is_refused_by_its_id() -> None:
    stranger = EventSigner("orders", Ed25519PrivateKey.generate())
    refusal = refused(stranger.sign(order_created()))
    assert refusal.startswith("unknown signing key") and stranger.key_id in refusal


def test_another_producers_version_1_signature_is_the_wrong_producer() -> None:
    refusal = refused(unit_signers()["invoices"].sign(order_created()))
    assert refusal.startswith("wrong producer")
    assert "invoices" in refusal and "order.created" in refusal


@pytest.mark.parametrize("value", ["A" * 86, "A" * 10, "A" * 90, "", "not base64 at all!"])
def test_a_version_1_signature_that_is_no_signature_is_a_bad_signature_not_an_error(
    value: str,
) -> None:
    event = unit_signers()["orders"].sign(order_created())
    event[SIGNATURE]["value"] = value
    assert refused(event).startswith("bad signature")


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
