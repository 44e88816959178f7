"""What a record of commands and answers obliges the warehouse to hold."""

from __future__ import annotations

from typing import Any

from loadtest.expectations import Event, check_events, check_stock_log, expectations, verdict


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
    assert not check_events(commands, [], strict=False).violations
    assert not check_events(commands, [event("a")], strict=False).violations
    assert check_events(commands, [event("a"), event("a")], strict=False).violations


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
    assert check_events(expectations([record("a", 500)]), [], strict=False).violations
    assert not check_events(expectations([record("a", 503)]), [], strict=False).violations
