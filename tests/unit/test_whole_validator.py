"""One validator call per event decides as the two part validators do.

``contracts.envelope.conforms`` checks an envelope with one validator built from the
envelope's schema and its payload version's schema together; ``validate_by_parts`` checks the
envelope, then the payload by its own schema. On valid events of every type and version and
on many changed ones (members removed, added, retyped, out of range, floats for integers,
another type or version named), the two must accept exactly the same events.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.events import event_stream
from contracts.catalog import CATALOGUE
from contracts.envelope import ContractViolation, conforms, validate, validate_by_parts
from tests.support.raw_events import order_created, stock_updated
from tests.support.signing import signed


def accepted_by_parts(event: Any) -> bool:
    try:
        validate_by_parts(event)
    except (ContractViolation, KeyError, TypeError):
        return False
    return True


def samples() -> list[dict[str, Any]]:
    """Valid envelopes of every type and payload version, signed and not."""
    current = list(event_stream(40, seed=11))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    older = [
        order_created(str(uuid.uuid4()), "u", at, schema_version=1),
        stock_updated("sku-1", 1, 5, at, schema_version=1),
    ]
    return [*current, *older, *(signed(e) for e in current[:8])]


def test_every_type_and_version_is_sampled() -> None:
    named = {(e["event_type"], e["schema_version"]) for e in samples()}
    assert named == {(t.name, v) for t in CATALOGUE for v in t.versions}


@pytest.mark.parametrize("event", samples(), ids=lambda e: f"{e['event_type']}")
def test_valid_events_pass_both(event: dict[str, Any]) -> None:
    assert conforms(event) and accepted_by_parts(event)
    assert validate(event) is event


REPLACEMENTS: st.SearchStrategy[Any] = st.sampled_from(
    [None, True, 0, 1, -1, 1.0, 2.0, 1.5, 2**31, "", "x", "\u0000", [], {}, {"x": 1},
     "order.created", "stock.updated", "2026-01-01T00:00:00Z", "2026-13-01T00:00:00Z",
     "00000000-0000-0000-0000-000000000000", "not-a-uuid"]
)  # fmt: skip


def paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every member and item under ``value``, as key/index paths."""
    found = [at] if at else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += paths(v, (*at, i))
    return found


@settings(max_examples=400, deadline=None)
@given(
    which=st.integers(0, 49),
    where=st.integers(0, 10**6),
    how=st.sampled_from(["replace", "remove", "add"]),
    replacement=REPLACEMENTS,
)
def test_changed_events_are_decided_alike(
    which: int, where: int, how: str, replacement: Any
) -> None:
    events = samples()
    event = copy.deepcopy(events[which % len(events)])
    places = paths(event)
    at = places[where % len(places)]
    parent = event
    for step in at[:-1]:
        parent = parent[step]
    last = at[-1]
    if how == "replace":
        parent[last] = replacement
    elif how == "remove":
        del parent[last]
    elif isinstance(parent, dict):
        parent["extra"] = replacement
    else:
        parent.append(replacement)
    assert conforms(event) == accepted_by_parts(event)
