"""One event's journey from the command to the serving views, and where it is stuck (pure).

The facts are gathered elsewhere (``journey_sources``); this module only decides what they
mean, so every state can be tested without a database.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from contracts.catalog import MARTS_OF


@dataclass(frozen=True)
class Ingested:
    at: datetime
    batch_id: int
    partition: int
    offset: int
    txid: int


@dataclass(frozen=True)
class DeadLettered:
    at: datetime
    reason: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Facts:
    """What the outbox, the warehouse and the schedule say about one event."""

    event: dict[str, Any]  # the envelope, as recorded in the outbox
    service: str
    recorded_at: datetime
    published_at: datetime | None
    ahead_in_outbox: int = 0  # unpublished events recorded before it
    broker_reachable: bool | None = None
    ingested: Ingested | None = None
    dead_letter: DeadLettered | None = None
    built_watermark: dict[str, int] = field(default_factory=dict)  # mart -> max watermark
    served_at: dict[str, datetime] = field(default_factory=dict)  # mart -> first publication
    next_run: datetime | None = None


@dataclass(frozen=True)
class Hop:
    name: str
    at: datetime | None
    detail: str
    seconds_since_previous: float | None = None


@dataclass(frozen=True)
class Journey:
    event_id: str
    event_type: str
    aggregate_id: str
    request_id: str | None
    state: str  # served | built | ingested | dead-lettered | published | in outbox
    hops: list[Hop]
    stuck: str | None  # why it goes no further, when it is not served yet

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for hop in data["hops"]:
            hop["at"] = hop["at"].isoformat() if hop["at"] else None
        return data


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "not scheduled"


def journey(facts: Facts) -> Journey:
    event = facts.event
    topic = str(event["event_type"])
    hops = [
        Hop(
            "accepted",
            _at(event["occurred_at"]),
            f"{facts.service}: request {event.get('request_id')}",
        ),
        Hop("in the outbox", facts.recorded_at, f"{facts.service} outbox"),
    ]
    state, stuck = "in outbox", None
    if facts.published_at is None:
        why = (
            "the broker does not answer, the relay retries with backoff"
            if facts.broker_reachable is False
            else "the relay has not reached it yet (is the service and its relay running?)"
        )
        stuck = f"still in the {facts.service} outbox, {facts.ahead_in_outbox} events ahead: {why}"
        return _finish(event, state, hops, stuck)
    where = f"topic {topic}"
    if facts.ingested is not None:
        where += f", partition {facts.ingested.partition}, offset {facts.ingested.offset}"
    elif facts.dead_letter is not None:
        where += f", partition {facts.dead_letter.partition}, offset {facts.dead_letter.offset}"
    hops.append(Hop("published", facts.published_at, where))
    state = "published"
    if facts.dead_letter is not None and facts.ingested is None:
        hops.append(Hop("dead-lettered", facts.dead_letter.at, facts.dead_letter.reason))
        stuck = f"dead-lettered by the ingest: {facts.dead_letter.reason}"
        return _finish(event, "dead-lettered", hops, stuck)
    if facts.ingested is None:
        stuck = f"not ingested yet; next scheduled run {_when(facts.next_run)}"
        return _finish(event, state, hops, stuck)
    ingested = facts.ingested
    hops.append(
        Hop("ingested", ingested.at, f"raw.{topic.replace('.', '_')}, batch {ingested.batch_id}")
    )
    state = "ingested"
    marts = MARTS_OF.get(topic, ())
    unbuilt = [m for m in marts if facts.built_watermark.get(m, 0) <= ingested.txid]
    if unbuilt or not marts:
        stuck = (
            f"not built into {', '.join(unbuilt)} yet; next scheduled run {_when(facts.next_run)}"
        )
        return _finish(event, state, hops, stuck)
    hops.append(Hop("built into the mart", None, ", ".join(f"marts.{m}" for m in marts)))
    state = "built"
    unserved = [m for m in marts if m not in facts.served_at]
    if unserved:
        stuck = (
            f"built but not published to serving.{', serving.'.join(unserved)}: the quality gate"
            f" failed or has not run yet; next scheduled run {_when(facts.next_run)}"
        )
        return _finish(event, state, hops, stuck)
    served = max(facts.served_at[m] for m in marts)
    hops.append(Hop("published to serving", served, ", ".join(f"serving.{m}" for m in marts)))
    return _finish(event, "served", hops, None)


def _finish(event: dict[str, Any], state: str, hops: list[Hop], stuck: str | None) -> Journey:
    timed: list[Hop] = []
    previous: datetime | None = None
    for hop in hops:
        # The outbox's created_at is its transaction's start (now()), a little before the
        # event's occurred_at was taken inside it: those hops count as no time, not negative.
        spent = max(0.0, (hop.at - previous).total_seconds()) if hop.at and previous else None
        timed.append(Hop(hop.name, hop.at, hop.detail, spent))
        previous = hop.at or previous
    return Journey(
        str(event["event_id"]), str(event["event_type"]), str(event["aggregate_id"]),
        event.get("request_id"), state, timed, stuck,
    )  # fmt: skip
