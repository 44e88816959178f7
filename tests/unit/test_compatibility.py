"""The compatibility check: published contracts change their words only; breaks need a version."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from contracts.catalog import BY_NAME, EventType
from contracts.compatibility import (
    BACKWARD,
    FORWARD,
    Registry,
    problems,
    repository_registry,
    schema_changes,
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return repository_registry()


def edited(registry: Registry, key: tuple[str, int], edit: Any) -> Registry:
    schemas = {k: copy.deepcopy(v) for k, v in registry.schemas.items()}
    edit(schemas[key])
    return dataclasses.replace(registry, schemas=schemas)


def test_the_repository_passes(registry: Registry) -> None:
    assert problems(registry) == []
    assert registry.published.keys() == registry.schemas.keys()  # every version is kept


def test_a_field_removed_without_a_new_version_fails(registry: Registry) -> None:
    def remove(schema: dict[str, Any]) -> None:
        del schema["properties"]["stock_amount"]
        schema["required"].remove("stock_amount")

    found = problems(edited(registry, ("stock.updated", 2), remove))
    assert found == [
        "stock.updated v2 was published; /stock_amount: field removed (breaks backward and "
        "forward compatibility). Make it a new version with its upcaster and a test instead "
        "(docs/compatibility.md)"
    ]


def test_words_may_change(registry: Registry) -> None:
    def reword(schema: dict[str, Any]) -> None:
        schema["description"] = "Said better."
        schema["properties"]["operation"]["description"] = "Which way."

    assert problems(edited(registry, ("stock.updated", 1), reword)) == []


@pytest.mark.parametrize(
    ("edit", "breaks"),
    [
        (lambda s: s["properties"]["operation"]["enum"].remove("decrease"), {BACKWARD}),
        (lambda s: s["properties"]["operation"]["enum"].append("reset"), {FORWARD}),
        (lambda s: s["properties"]["stock_amount"].update(maximum=10), {BACKWARD}),
        (lambda s: s["properties"]["stock_amount"].update(minimum=0), {FORWARD}),
        (lambda s: s["properties"].update(note={"type": "string"}), {FORWARD}),
        (lambda s: s["required"].remove("operation"), {FORWARD}),
        (lambda s: s["properties"]["product_id"].update(type=["string", "null"]), {FORWARD}),
        (lambda s: s["properties"]["product_id"].update(pattern="^x"), {BACKWARD, FORWARD}),
    ],
)
def test_each_kind_of_change_is_classified(edit: Any, breaks: set[str]) -> None:
    old = repository_registry().schemas[("stock.updated", 2)]
    new = copy.deepcopy(old)
    edit(new)
    [change] = schema_changes(old, new)
    assert change.breaks == breaks


def test_a_new_version_needs_its_upcaster_and_a_staging_test(registry: Registry) -> None:
    stock = BY_NAME["stock.updated"]
    v3 = dataclasses.replace(stock, versions=(1, 2, 3))
    catalogue = tuple(v3 if e.name == stock.name else e for e in registry.catalogue)
    schema = copy.deepcopy(registry.schemas[("stock.updated", 2)])
    del schema["properties"]["operation"]
    schemas = {**registry.schemas, ("stock.updated", 3): schema}
    found = problems(dataclasses.replace(registry, catalogue=catalogue, schemas=schemas))
    assert found == [
        "stock.updated v3: no upcaster from v2 in contracts/upcasting.py",
        "stock.updated: no dbt unit test of stg_stock__updated given v3 rows "
        "(its upcast in staging is untested)",
    ]

    def identity(payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    upcasters: dict[tuple[str, int], Callable[..., Any]] = {
        **registry.upcasters,
        ("stock.updated", 2): identity,
    }
    tested = {**registry.tested, "stock.updated": {1, 2, 3}}
    fixed = dataclasses.replace(
        registry, catalogue=catalogue, schemas=schemas, upcasters=upcasters, tested=tested
    )
    assert problems(fixed) == []  # a new version may break what the old one promised


def test_a_published_version_cannot_be_dropped(registry: Registry) -> None:
    order = BY_NAME["order.created"]
    only_v2 = EventType(order.name, (2,), order.producer, order.partition_key, order.marts)
    catalogue = tuple(only_v2 if e.name == order.name else e for e in registry.catalogue)
    found = problems(dataclasses.replace(registry, catalogue=catalogue))
    assert any("order.created v1 was published and is gone" in p for p in found)
    assert "order.created.v1.schema.json is not a version the catalogue lists" in found


def with_envelope(registry: Registry, edit: Any) -> Registry:
    envelope = copy.deepcopy(dict(registry.envelope))
    edit(envelope)
    return dataclasses.replace(registry, envelope=envelope)


def test_an_envelope_field_removed_fails(registry: Registry) -> None:
    def remove(envelope: dict[str, Any]) -> None:
        del envelope["properties"]["request_id"]
        envelope["required"].remove("request_id")

    assert problems(with_envelope(registry, remove)) == [
        "the envelope changed; /request_id: field removed (breaks backward and forward "
        "compatibility). Every event in the log carries it: only a new event_type value may "
        "be added (docs/compatibility.md)"
    ]


def test_an_envelope_limit_tightened_fails(registry: Registry) -> None:
    def tighten(envelope: dict[str, Any]) -> None:
        envelope["properties"]["aggregate_version"]["minimum"] = 2

    [problem] = problems(with_envelope(registry, tighten))
    assert "/aggregate_version: minimum raised (breaks backward compatibility)" in problem


def test_the_envelope_may_gain_an_event_type_and_keep_its_words_changed(
    registry: Registry,
) -> None:
    def grow(envelope: dict[str, Any]) -> None:
        envelope["properties"]["event_type"]["enum"].append("order.shipped")
        envelope["properties"]["producer"]["description"] = "Said better."

    assert problems(with_envelope(registry, grow)) == []


def test_a_new_signature_member_may_be_added_optional_only_and_nowhere_else(
    registry: Registry,
) -> None:
    def optional(envelope: dict[str, Any]) -> None:
        envelope["properties"]["signature"]["properties"]["epoch"] = {"type": "integer"}

    assert problems(with_envelope(registry, optional)) == []

    def required(envelope: dict[str, Any]) -> None:
        optional(envelope)
        envelope["properties"]["signature"]["required"].append("epoch")

    [problem] = problems(with_envelope(registry, required))
    assert "/signature/epoch: field added (breaks backward and forward compatibility)" in problem

    def elsewhere(envelope: dict[str, Any]) -> None:
        envelope["properties"]["trace"]["properties"]["epoch"] = {"type": "integer"}

    assert problems(with_envelope(registry, elsewhere)) != []


def test_an_event_type_dropped_from_the_envelope_fails(registry: Registry) -> None:
    def drop(envelope: dict[str, Any]) -> None:
        envelope["properties"]["event_type"]["enum"].remove("order.cancelled")

    [problem] = problems(with_envelope(registry, drop))
    assert "/event_type: enum values removed (breaks backward compatibility)" in problem
