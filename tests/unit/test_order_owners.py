"""Owner proofs: only the key's holders can show that orders belong to a user."""

from __future__ import annotations

import uuid

import pytest

from services.order_owners import OrderOwners, aggregate, encode

KEY = b"a key the write services share, 32+ bytes long"


def proof(owners: OrderOwners, user: str, orders: list[uuid.UUID]) -> str:
    return encode(aggregate(owners.tag(user, order) for order in orders))


def test_a_proof_of_the_users_own_orders_passes_any_subset_of_them() -> None:
    owners = OrderOwners(KEY)
    orders = [uuid.uuid4() for _ in range(5)]
    assert owners.proves(proof(owners, "ann", orders), "ann", orders)
    assert owners.proves(proof(owners, "ann", orders[:2]), "ann", reversed(orders[:2]))
    assert owners.proves(proof(owners, "ann", orders), "ann", [*orders, orders[0]])


def test_another_user_another_order_or_another_key_fails() -> None:
    owners = OrderOwners(KEY)
    mine, theirs = [uuid.uuid4(), uuid.uuid4()], uuid.uuid4()
    assert not owners.proves(proof(owners, "ann", mine), "bob", mine)
    assert not owners.proves(proof(owners, "ann", mine), "ann", [*mine, theirs])
    assert not owners.proves(proof(owners, "ann", mine), "ann", mine[:1])
    assert not owners.proves(proof(OrderOwners(b"x" * 40), "ann", mine), "ann", mine)
    # The user id's length is part of what is tagged: no shifting bytes between the two.
    assert owners.tag("ann", mine[0]) != owners.tag("ann" + "\0", mine[0])


@pytest.mark.parametrize("text", ["", "!" * 43, "A" * 42, "A" * 44, "é" * 43, "A" * 42 + "B"])
def test_anything_but_a_proof_is_refused_without_an_error(text: str) -> None:
    assert not OrderOwners(KEY).proves(text, "ann", [uuid.uuid4()])
