"""What a load run's record says the warehouse must hold, and where it does not (pure).

Attempts that share an ``Idempotency-Key`` are one command. A command is *accepted* if
any attempt got a 2xx: then exactly one event carries the ``X-Request-Id`` of one of its
attempts. It is *refused* if every attempt got a 4xx: then no event does. Otherwise
(5xx, or no answer: timeout, connection refused) the outcome is *unknown*: zero or one,
until a retry with the same key, sent once every attempt was over (``resolves``), says:
its 2xx is the first commit's answer or its own, and its 4xx means no attempt committed
(a refused command leaves its key unused, services/idempotency.py). What stays unknown
after that is bounded: at most ``UNKNOWN_BOUND`` of the commands.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Verdict = Literal["accepted", "refused", "unknown"]
UNKNOWN_BOUND = 0.01  # share of commands whose outcome may stay unknown after resolution
EVENT_TYPE = {
    "create_order": "order.created",
    "cancel_order": "order.cancelled",
    "issue_invoice": "invoice.created",
    "stock_increase": "stock.updated",
    "stock_decrease": "stock.updated",
}


@dataclass(frozen=True)
class Expectation:
    """One command, over all its attempts, and what its answers oblige the warehouse to hold."""

    key: str
    kind: str
    user: str
    path: str
    body: dict[str, Any]
    request_ids: frozenset[str]
    verdict: Verdict
    response: dict[str, Any] | None  # the body of the accepted answer
    statuses: tuple[int | None, ...] = ()  # of every attempt, None where no answer came
    resolved: bool = False  # only a resolving retry's answer is known


@dataclass(frozen=True)
class Event:
    """An event in raw, as far as the checks need it."""

    request_id: str | None
    event_type: str
    aggregate_id: str
    aggregate_version: int
    payload: dict[str, Any]
    occurred_at: datetime | None = None


@dataclass
class Findings:
    """Violations of the invariants (empty when all hold) and figures worth printing."""

    violations: list[str] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.figures[name] = self.figures.get(name, 0) + n


def verdict(statuses: Iterable[int | None]) -> Verdict:
    answers = list(statuses)
    if any(s is not None and 200 <= s < 300 for s in answers):
        return "accepted"
    if answers and all(s is not None and 400 <= s < 500 for s in answers):
        return "refused"
    return "unknown"


def verdict_of(tries: list[dict[str, Any]]) -> Verdict:
    """The verdict of one command's attempts, a resolving retry's 4xx counted as final."""
    found = verdict(t.get("status") for t in tries)
    asked = [t["status"] for t in tries if t.get("resolves") and t.get("status") is not None]
    answered = [status for status in asked if status < 500]
    if found == "unknown" and answered and 400 <= answered[-1] < 500:
        return "refused"
    return found


def expectations(records: Iterable[dict[str, Any]]) -> list[Expectation]:
    """The HTTP commands of a record, attempts grouped by idempotency key (poison left out)."""
    attempts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if record["kind"] != "poison":
            attempts[record.get("idempotency_key") or record["id"]].append(record)
    found = []
    for key, tries in attempts.items():
        accepted = [t for t in tries if t.get("status") and 200 <= t["status"] < 300]
        first = tries[0]
        final = verdict_of(tries)
        before = verdict(t.get("status") for t in tries if not t.get("resolves"))
        found.append(
            Expectation(
                key=key,
                kind=first["kind"],
                user=first["user"],
                path=first["path"],
                body=first["body"],
                request_ids=frozenset(t["id"] for t in tries),
                verdict=final,
                response=accepted[0]["response"] if accepted else None,
                statuses=tuple(t.get("status") for t in tries),
                resolved=final != "unknown" and before == "unknown",
            )
        )
    return found


def check_events(
    commands: list[Expectation],
    events: list[Event],
    strict: bool,
    unknown_bound: float = UNKNOWN_BOUND,
) -> Findings:
    """Each accepted command made exactly one event of its type; refused ones made none.

    ``strict``: the warehouse saw no other traffic, so an event no command accounts for is
    a violation too. More than ``unknown_bound`` of the commands left unknown is one too.
    """
    findings = Findings()
    by_request: dict[str | None, list[Event]] = defaultdict(list)
    for event in events:
        by_request[event.request_id].append(event)
    claimed: set[str | None] = set()
    for command in commands:
        crashed = [s for s in command.statuses if s is not None and s >= 500 and s != 503]
        if crashed:
            # A service that cannot reach its database says 503; anything else is a bug.
            findings.violations.append(f"{command.kind} {command.key} was answered {crashed}")
        made = [e for rid in command.request_ids for e in by_request.get(rid, [])]
        claimed |= command.request_ids
        findings.count(f"commands {command.verdict}")
        wrong_type = [e for e in made if e.event_type != EVENT_TYPE[command.kind]]
        if wrong_type:
            findings.violations.append(f"{command.kind} {command.key}: events {wrong_type}")
        if command.verdict == "accepted" and len(made) != 1:
            findings.violations.append(
                f"accepted {command.kind} {command.key} has {len(made)} events in raw, not 1"
            )
        elif command.verdict == "refused" and made:
            findings.violations.append(
                f"refused {command.kind} {command.key} has {len(made)} events in raw"
            )
        elif command.verdict == "unknown" and len(made) > 1:
            findings.violations.append(f"{command.kind} {command.key} has {len(made)} events")
        elif command.verdict == "unknown":
            findings.count(f"unknown outcome, {'in' if made else 'not in'} raw")
    unknown = findings.figures.get("commands unknown", 0)
    if unknown > unknown_bound * len(commands):
        findings.violations.append(
            f"{unknown} of {len(commands)} commands have an unknown outcome,"
            f" more than the {unknown_bound:.0%} allowed"
        )
    findings.count("commands resolved by a retry with their key", resolved(commands))
    unclaimed = [e for rid, found in by_request.items() if rid not in claimed for e in found]
    findings.count("events from no command of the record", len(unclaimed))
    if strict and unclaimed:
        findings.violations.append(f"{len(unclaimed)} events in raw lack an accepted command")
    return findings


def resolved(commands: Iterable[Expectation]) -> int:
    """How many commands a resolving retry decided (its answer is the only known one)."""
    return sum(1 for c in commands if c.resolved)


def check_stock_log(events: list[Event]) -> tuple[dict[str, int], list[str]]:
    """Fold each product's log: stock per product, and gaps or negative stock on the way."""
    logs: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.event_type == "stock.updated":
            logs[event.aggregate_id].append(event)
    stock: dict[str, int] = {}
    problems = []
    for product, log in logs.items():
        log.sort(key=lambda e: e.aggregate_version)
        versions = [e.aggregate_version for e in log]
        if versions != list(range(1, len(log) + 1)):
            problems.append(f"{product}: versions {versions[:10]}... have gaps or repeats")
        level = 0
        for event in log:
            sign = 1 if event.payload["operation"] == "increase" else -1
            level += sign * int(event.payload["stock_amount"])
            if level < 0:
                problems.append(f"{product}: stock {level} at version {event.aggregate_version}")
        stock[product] = level
    return stock, problems
