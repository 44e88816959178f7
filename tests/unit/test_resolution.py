"""Which commands a load run must ask about again, and how it asks."""

from __future__ import annotations

from typing import Any

from loadtest.resolution import unresolved
from loadtest.traffic import Traffic, TrafficShape


def sent(status: int | None, **rest: Any) -> list[dict[str, Any]]:
    """The records of the first commands of a seeded traffic, each answered ``status``."""
    traffic = Traffic(3, TrafficShape(retry_share=0))
    commands = [c for c in (next(traffic) for _ in range(40)) if c.kind != "poison"][:5]
    return [{**c.as_json(), "status": status, "response": {}, **rest} for c in commands]


def test_only_commands_without_a_known_outcome_are_asked_again() -> None:
    answered = sent(201)
    timed_out = sent(None, error="ReadTimeout")[:1]
    timed_out[0]["id"] = "attempt-2"
    retries = unresolved([*answered, *timed_out])
    assert retries == []  # the key already has a 2xx
    lost = [{**r, "status": s} for r, s in zip(answered, (None, 503, 409, 201, 500), strict=True)]
    retries = unresolved(lost)
    assert [r.idempotency_key for r in retries] == [lost[i]["idempotency_key"] for i in (0, 1, 4)]


def test_a_resolving_retry_is_the_same_command_under_its_key() -> None:
    [first] = sent(None)[:1]
    [retry] = unresolved([first])
    assert retry.resolves and retry.retry_of == first["id"] and retry.id != first["id"]
    same = ("kind", "user", "service", "path", "body", "idempotency_key")
    assert {k: getattr(retry, k) for k in same} == {k: first[k] for k in same}
    # asked again, it is asked under a new request id, the same on every run
    again = unresolved([first, {**retry.as_json(), "status": 503}])
    assert again[0].id not in (first["id"], retry.id)
    assert again == unresolved([first, {**retry.as_json(), "status": 503}])
    assert unresolved([first, {**retry.as_json(), "status": 409}]) == []


def test_a_command_older_than_its_keys_window_is_not_asked_again() -> None:
    [first] = sent(None, sent_at="2026-12-06T10:00:00+00:00")[:1]
    assert unresolved([first], sent_after="2026-12-06T09:00:00+00:00")
    assert unresolved([first], sent_after="2026-12-06T11:00:00+00:00") == []
