"""The ingest's group fold against the plain reference, on random batches and proofs.

``contracts/signatures.py`` folds audit paths two ways on purpose: ``root_from_path`` is the
plain RFC 9162 reference, one envelope at a time, and ``TrustedKeys.refusals`` folds the
envelopes of one batch signature together, level by level (``group_root``), where
neighbours' leaves stand in for hashes of each other's paths. Here both decide on the same
envelopes, delivered in random order and in calls of random length from several batches,
many of them tampered with (bits of the path, hashes left out, added or swapped for real
nodes of the batch, another envelope's proof, another index or size, another batch's root,
the payload): folding together must never change an answer, also while verified roots are
forgotten at a small bound.
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import random
from collections.abc import Callable
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.signatures import (
    HASH_SIZE,
    SIGNATURE,
    TrustedKeys,
    leaf_hash,
    merkle_tree,
    root_from_path,
    root_message,
)
from tests.support.signing import unit_signers, unit_trust

Event = dict[str, Any]
Tamper = Callable[[Event, list[list[Event]]], None]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hashes(path: bytes) -> list[bytes]:
    return [path[i : i + HASH_SIZE] for i in range(0, len(path), HASH_SIZE)]


def signed_batches(sizes: list[int]) -> list[list[Event]]:
    """Batches as the orders relay signs them, after a JSON round trip (as the ingest reads)."""
    signer = unit_signers()["orders"]
    batches = []
    for b, size in enumerate(sizes):
        events = [
            {"event_type": "order.created", "producer": "orders", "aggregate_id": f"{b}-{i}"}
            for i in range(size)
        ]
        batches.append([orjson.loads(orjson.dumps(e)) for e in signer.sign_batch(events)])
    return batches


def reference(event: Event) -> str | None:
    """The decision from first principles: the plain fold to the root the envelope names,
    then that root's signature checked with ``cryptography`` (not the ingest's libsodium)."""
    signature = event[SIGNATURE]
    try:
        root, path = unb64(signature["root"]), unb64(signature["path"])
        index, size = signature["index"], signature["size"]
    except (KeyError, binascii.Error, ValueError):
        return "bad proof"
    if type(index) is not int or type(size) is not int:
        return "bad proof"
    if len(root) != HASH_SIZE or len(path) % HASH_SIZE:
        return "bad proof"
    if root_from_path(leaf_hash(event), index, size, hashes(path)) != root:
        return "bad proof"
    public_key = unit_signers()["orders"].key.public_key()
    try:
        public_key.verify(unb64(signature["value"]), root_message(root, size))
    except (InvalidSignature, binascii.Error, ValueError):
        return "bad signature"
    return None


def decision(refusal: str | None) -> str | None:
    return None if refusal is None else refusal.split(":")[0]


# Each takes the envelope (already a copy) and every batch; draws come from the closure.
def flip_bit(at: int) -> Tamper:
    def tamper(event: Event, _: list[list[Event]]) -> None:
        path = bytearray(unb64(event[SIGNATURE]["path"]))
        if path:
            path[at % len(path)] ^= 1 << (at % 8)
            event[SIGNATURE]["path"] = b64(bytes(path))

    return tamper


def drop_hash(at: int) -> Tamper:
    def tamper(event: Event, _: list[list[Event]]) -> None:
        path = hashes(unb64(event[SIGNATURE]["path"]))
        if path:
            del path[at % len(path)]
        event[SIGNATURE]["path"] = b64(b"".join(path))

    return tamper


def add_hash(at: int, extra: bytes) -> Tamper:
    def tamper(event: Event, _: list[list[Event]]) -> None:
        path = hashes(unb64(event[SIGNATURE]["path"]))
        path.insert(at % (len(path) + 1), extra)
        event[SIGNATURE]["path"] = b64(b"".join(path))

    return tamper


def swap_in_real_node(at: int, donor: int) -> Tamper:
    """A hash of the path replaced by a real node of the batch (from another envelope's
    path): what a forger would try to steer the fold onto a remembered node."""

    def tamper(event: Event, batches: list[list[Event]]) -> None:
        (events,) = [b for b in batches if b[0][SIGNATURE]["root"] == event[SIGNATURE]["root"]]
        nodes = [h for e in events for h in hashes(unb64(e[SIGNATURE]["path"]))]
        path = hashes(unb64(event[SIGNATURE]["path"]))
        if path and nodes:
            path[at % len(path)] = nodes[donor % len(nodes)]
            event[SIGNATURE]["path"] = b64(b"".join(path))

    return tamper


def other_path(donor: int) -> Tamper:
    """Another envelope's valid proof (path and index) on this envelope."""

    def tamper(event: Event, batches: list[list[Event]]) -> None:
        (events,) = [b for b in batches if b[0][SIGNATURE]["root"] == event[SIGNATURE]["root"]]
        other = events[donor % len(events)][SIGNATURE]
        event[SIGNATURE].update(path=other["path"], index=other["index"])

    return tamper


def set_field(name: str, value: int) -> Tamper:
    def tamper(event: Event, _: list[list[Event]]) -> None:
        event[SIGNATURE][name] = value

    return tamper


def other_batch(donor: int) -> Tamper:
    """Another batch's root and signature, this envelope's own index, size and path."""

    def tamper(event: Event, batches: list[list[Event]]) -> None:
        theirs = batches[donor % len(batches)][0][SIGNATURE]
        event[SIGNATURE].update(root=theirs["root"], value=theirs["value"])

    return tamper


def change_payload(event: Event, _: list[list[Event]]) -> None:
    event["aggregate_id"] += "-changed"


ints = st.integers(min_value=0, max_value=10_000)
tampers: st.SearchStrategy[Tamper | None] = st.one_of(
    st.none(),
    st.none(),
    st.none(),
    st.builds(flip_bit, ints),
    st.builds(drop_hash, ints),
    st.builds(add_hash, ints, st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE)),
    st.builds(swap_in_real_node, ints, ints),
    st.builds(other_path, ints),
    st.builds(set_field, st.sampled_from(["index", "size"]), st.integers(-1, 70)),
    st.builds(other_batch, ints),
    st.just(change_payload),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=3),
    deliveries=st.lists(st.tuples(ints, ints, tampers), min_size=1, max_size=60),
    calls=st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=4),
    roots_kept=st.sampled_from([1, 4096]),
    whole=st.booleans(),
    order=st.randoms(use_true_random=False),
)
def test_the_group_fold_decides_as_the_reference_on_every_envelope(
    sizes: list[int],
    deliveries: list[tuple[int, int, Tamper | None]],
    calls: list[int],
    roots_kept: int,
    whole: bool,
    order: random.Random,
) -> None:
    batches = signed_batches(sizes)
    trust = TrustedKeys(unit_trust().by_id.values(), roots_kept=roots_kept)
    events: list[Event] = []
    for batch_at, event_at, tamper in deliveries:
        batch = batches[batch_at % len(batches)]
        event = copy.deepcopy(batch[event_at % len(batch)])
        if tamper is not None:
            tamper(event, batches)
        events.append(event)
    if whole:  # the batches' own envelopes too, so that tampered ones meet their neighbours
        events += [copy.deepcopy(e) for batch in batches for e in batch]
        order.shuffle(events)
    expected = [reference(e) for e in events]
    answers: list[str | None] = []
    start = 0
    for length in itertools.cycle(calls):  # the ingest's write batches: calls of any length
        if start >= len(events):
            break
        answers += [decision(r) for r in trust.refusals(events[start : start + length])]
        start += length
    assert answers == expected, [d[2] for d in deliveries]
    # The untampered envelopes all verify (the test would pass vacuously otherwise).
    assert expected.count(None) >= sum(tamper is None for _, _, tamper in deliveries)


@settings(max_examples=100, deadline=None)
@given(
    leaves=st.lists(
        st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), min_size=1, max_size=70, unique=True
    )
)
def test_every_proof_of_a_random_tree_folds_to_its_root_and_only_there(
    leaves: list[bytes],
) -> None:
    """The reference itself against the tree builder: each leaf's path leads to the root;
    the same path under another index or size, or with a hash changed, does not."""
    root, paths = merkle_tree(leaves)
    size = len(leaves)
    for index, (leaf, path) in enumerate(zip(leaves, paths, strict=True)):
        assert root_from_path(leaf, index, size, path) == root
        for other in {index - 1, index + 1} & set(range(size)):
            if leaves[other] != leaf:
                assert root_from_path(leaf, other, size, path) != root
        if path:
            changed = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
            assert root_from_path(leaf, index, size, changed) != root
    assert root_from_path(leaves[0], size, size, paths[0]) is None
