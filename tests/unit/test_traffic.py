"""The load generator's traffic: reproducible from a seed, and the mix the fault suite needs."""

from __future__ import annotations

import json
from collections import Counter
from itertools import islice

from loadtest.traffic import Command, Traffic, TrafficShape, poison_message


def take(seed: int, n: int, shape: TrafficShape | None = None) -> list[Command]:
    return list(islice(Traffic(seed, shape), n))


def test_the_same_seed_gives_the_same_commands() -> None:
    assert take(7, 500) == take(7, 500)
    assert take(7, 500) != take(8, 500)


def test_the_mix_has_every_kind_retries_and_early_invoices() -> None:
    commands = take(1, 3000)
    kinds = Counter(c.kind for c in commands)
    assert set(kinds) == {
        "create_order", "cancel_order", "issue_invoice",
        "stock_increase", "stock_decrease", "poison",
    }  # fmt: skip
    assert 0.3 < kinds["create_order"] / len(commands) < 0.4
    retries = [c for c in commands if c.retry_of]
    assert 0.03 < len(retries) / len(commands) < 0.08
    firsts = {c.id: c for c in commands}
    for retry in retries:
        assert retry.retry_of is not None
        first = firsts[retry.retry_of]
        assert (retry.idempotency_key, retry.body, retry.path, retry.user) == (
            first.idempotency_key, first.body, first.path, first.user,
        )  # fmt: skip
        assert retry.id != first.id
    # Some invoices name an order that is only created later, by the same user.
    created_at = {c.body["order_id"]: c.seq for c in commands if c.kind == "create_order"}
    early = [
        c for c in commands
        if c.kind == "issue_invoice" and not c.retry_of
        and created_at.get(c.body["order_id"], 0) > c.seq
    ]  # fmt: skip
    assert early


def test_stock_traffic_is_on_a_few_hot_products() -> None:
    commands = take(3, 1000, TrafficShape(hot_products=2))
    products = {c.path.split("/")[2] for c in commands if c.service == "stock"}
    assert products == {"hot-0", "hot-1"}


def test_every_command_has_its_own_request_id() -> None:
    commands = take(5, 2000)
    assert len({c.id for c in commands}) == len(commands)


def test_poison_messages_are_unique_and_bad_in_the_way_they_say() -> None:
    poison = [c for c in take(11, 4000, TrafficShape(poison_share=0.2)) if c.kind == "poison"]
    assert {c.poison for c in poison} == {
        "not json", "no envelope", "bad payload", "unknown version",
    }  # fmt: skip
    values = [poison_message(c) for c in poison]
    assert len(set(values)) == len(values)
    for command, value in zip(poison, values, strict=True):
        if command.poison == "not json":
            continue
        message = json.loads(value)
        if command.poison == "unknown version":
            assert message["schema_version"] == 999
        elif command.poison == "no envelope":
            assert "event_id" not in message
