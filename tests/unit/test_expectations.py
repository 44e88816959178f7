"""What a record of commands and answers obliges the warehouse to hold."""

from __future__ import annotations

from typing import Any

from loadtest.expectations import (
    UNKNOWN_BOUND,
    Event,
    check_events,
    check_stock_log,
    expectations,
    verdict,
)


def record(rid: str, status: int | None, key: str | None = None, kind: str = "create_order",
           **rest: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "id": rid, "kind": kind, "user": "u", "path": "/orders", "body": {"order_id": rid},
        "idempotency_key": key, "status": status, "response": {}, **rest,
    }  # fmt: skip


def event(rid: str | None, event_type: str = "order.created", **rest: Any) -> Event:
    fields: dict[str, Any] = {"aggregate_id": "a", "aggregate_version": 1, "payload": {}, **rest}
    return Event(rid, event_type, **fields)


def test_verdicts() -> None:
    assert verdict([201]) == "accepted"
    assert verdict([None, 201]) == "accepted"
    assert verdict([409, 422]) == "refused"
    assert verdict([409, None]) == "unknown"
    assert verdict([503]) == "unknown"


def test_retries_with_one_key_are_one_command() -> None:
    commands = expectations([record("a", None, key="k"), record("b", 201, key="k")])
    assert len(commands) == 1
    assert commands[0].request_ids == {"a", "b"} and commands[0].verdict == "accepted"


def test_an_accepted_command_needs_exactly_one_event() -> None:
    commands = expectations([record("a", 201), record("b", 201), record("c", 201)])
    events = [event("a"), event("b"), event("b")]
    violations = check_events(commands, events, strict=False).violations
    assert len(violations) == 2
    assert any("b has 2 events" in v for v in violations)
    assert any("c has 0 events" in v for v in violations)


def test_a_refused_command_must_leave_nothing() -> None:
    commands = expectations([record("a", 409)])
    assert check_events(commands, [event("a")], strict=False).violations
    assert not check_events(commands, [], strict=False).violations


def test_an_unknown_outcome_may_have_made_one_event_not_two() -> None:
    commands = expectations([record("a", None)])
    assert not check_events(commands, [], strict=False, unknown_bound=1).violations
    assert not check_events(commands, [event("a")], strict=False, unknown_bound=1).violations
    assert check_events(commands, [event("a"), event("a")], False, unknown_bound=1).violations


def test_unknown_outcomes_are_bounded_to_one_percent_of_the_commands() -> None:
    known = [record(f"k{n}", 201) for n in range(198)]
    events = [event(f"k{n}") for n in range(198)]
    two = expectations([*known, record("a", None), record("b", 503)])
    assert UNKNOWN_BOUND == 0.01
    assert not check_events(two, events, strict=True).violations
    three = expectations([*known, record("a", None), record("b", 503), record("c", None)])
    [violation] = check_events(three, events, strict=True).violations
    assert violation == "3 of 201 commands have an unknown outcome, more than the 1% allowed"


def test_a_resolving_retry_decides_an_unknown_outcome() -> None:
    timed_out = record("a", None, key="k")
    accepted = expectations([timed_out, record("r", 201, key="k", resolves=True)])
    assert accepted[0].verdict == "accepted" and accepted[0].resolved
    refused = expectations([timed_out, record("r", 409, key="k", resolves=True)])
    assert refused[0].verdict == "refused" and refused[0].resolved
    # a refused retry with its key means no attempt committed: an event is a violation
    assert check_events(refused, [event("a")], strict=False).violations
    still = expectations([timed_out, record("r", 503, key="k", resolves=True)])
    assert still[0].verdict == "unknown" and not still[0].resolved
    # an ordinary retry's 4xx says nothing about an attempt still running
    assert expectations([timed_out, record("r", 409, key="k")])[0].verdict == "unknown"
    findings = check_events(accepted, [event("r")], strict=True)
    assert not findings.violations
    assert findings.figures["commands resolved by a retry with their key"] == 1


def test_strict_counts_events_no_command_accounts_for() -> None:
    commands = expectations([record("a", 201)])
    events = [event("a"), event("stranger")]
    assert not check_events(commands, events, strict=False).violations
    assert check_events(commands, events, strict=True).violations


def test_an_event_of_the_wrong_type_is_a_violation() -> None:
    commands = expectations([record("a", 201)])
    assert check_events(commands, [event("a", "invoice.created")], strict=False).violations


def stock(version: int, operation: str, amount: int, product: str = "p") -> Event:
    payload = {"operation": operation, "stock_amount": amount}
    return event(None, "stock.updated", aggregate_id=product, aggregate_version=version,
                 payload=payload)  # fmt: skip


def test_the_stock_log_folds_and_reports_gaps_and_negatives() -> None:
    levels, problems = check_stock_log([stock(2, "decrease", 3), stock(1, "increase", 5)])
    assert levels == {"p": 2} and problems == []
    _, problems = check_stock_log([stock(1, "increase", 5), stock(3, "decrease", 1)])
    assert any("gaps" in p for p in problems)
    _, problems = check_stock_log([stock(1, "decrease", 1)])
    assert any("stock -1" in p for p in problems)


def test_a_500_is_a_violation_a_503_is_not() -> None:
    assert check_events(expectations([record("a", 500)]), [], False, unknown_bound=1).violations
    assert not check_events(expectations([record("a", 503)]), [], False, 1).violations
