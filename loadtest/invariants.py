"""Check a load run's record against the warehouse after a pipeline pass (``cqrsw check``).

Holds when: every accepted command has exactly one event in raw and shows in the published
views; refused commands left nothing; at most 1 % of the commands kept an unknown outcome
after the load asked about each with its idempotency key; stock in the views equals the
fold of the log and of the accepted answers, has no version gaps, is never negative, and
each day of the stock history holds the log's fold by that day's end; every order is
served once, under the user who placed it, with the status and invoice URL its accepted
commands give it; every poison message is a dead letter with its reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from config.settings import Settings
from contracts.catalog import TOPICS, raw_table
from contracts.upcasting import upcast_payload
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import RAW_SCHEMA, SERVING_SCHEMA
from ingest.warehouse import message_sha256
from loadtest import served as served_view
from loadtest.expectations import Event, Expectation, Findings, check_events, check_stock_log
from loadtest.expectations import expectations as expectations_of
from loadtest.loadgen import read_record
from loadtest.traffic import POISON_KEY, Command, poison_message
from services.tokens import issue_token


@dataclass
class Report:
    findings: Findings = field(default_factory=Findings)

    @property
    def ok(self) -> bool:
        return not self.findings.violations

    def lines(self) -> list[str]:
        out = [f"{name}: {n}" for name, n in sorted(self.findings.figures.items())]
        out += [f"VIOLATION {v}" for v in self.findings.violations[:50]]
        extra = len(self.findings.violations) - 50
        if extra > 0:
            out.append(f"... and {extra} more violations")
        out.append("invariants hold" if self.ok else f"{len(self.findings.violations)} violations")
        return out


def check_record(settings: Settings, record: Path, **options: Any) -> Report:
    return check(settings, read_record(record), **options)


def check(
    settings: Settings,
    records: list[dict[str, Any]],
    *,
    strict: bool = False,
    broker_lost: str | None = None,
    reads: bool = False,
) -> Report:
    """``reads``: also read each user's orders through the read API (it must be running).

    ``broker_lost``: when (ISO 8601, UTC) a memory-only broker last came back empty.

    Poison produced before then is in no outbox: if ingest had not read it, it is gone
    with the broker, which is counted, not a violation.
    """
    commands = expectations_of(records)
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        events = _raw_events(conn)
        report = Report(check_events(commands, events, strict))
        findings = report.findings
        folded, problems = check_stock_log(events)
        findings.violations += problems
        _check_views(conn, commands, events, folded, findings, strict)
        _check_poison(conn, records, findings, broker_lost)
    if reads:
        _check_reads(settings, commands, findings)
    return report


def _raw_events(conn: psycopg.Connection[Any]) -> list[Event]:
    events = []
    for topic in TOPICS:
        table = sql.Identifier(RAW_SCHEMA, raw_table(topic))
        query = sql.SQL(
            "select request_id, event_type, aggregate_id, aggregate_version, schema_version,"
            " payload, occurred_at from {}"
        ).format(table)
        # raw keeps each event in the version it was written in: read them in one shape
        for rid, event_type, aggregate_id, version, schema_version, payload, at in conn.execute(
            query
        ):
            payload = upcast_payload(event_type, schema_version, payload)
            events.append(Event(rid, event_type, aggregate_id, version, payload, at))
    return events


def _serving(conn: psycopg.Connection[Any], query: str, view: str) -> list[tuple[Any, ...]]:
    return conn.execute(sql.SQL(query).format(sql.Identifier(SERVING_SCHEMA, view))).fetchall()


def _check_views(
    conn: psycopg.Connection[Any],
    commands: list[Expectation],
    events: list[Event],
    folded: dict[str, int],
    findings: Findings,
    strict: bool,
) -> None:
    """Every published view, every row, against the record (and stock against the raw log)."""
    products = _serving(conn, "select product_id, stock from {}", "products")
    for product, level in folded.items():
        served = [stock for pid, stock in products if pid == product]
        if served != [level]:
            findings.violations.append(
                f"serving.products: {product} stock {served}, the log folds to {level}"
            )
    served_view.check_products([(p, int(s)) for p, s in products], commands, findings, strict)
    days = _serving(conn, "select product_id, day, stock from {}", "product_stock_daily")
    served_view.check_stock_days([(p, d, int(s)) for p, d, s in days], events, findings)
    orders = _serving(
        conn,
        "select order_id::text, user_id, status, invoice_url from {}",
        "orders_with_invoices",
    )
    served_view.check_orders([(o, u, s, i) for o, u, s, i in orders], commands, findings, strict)


def _check_reads(settings: Settings, commands: list[Expectation], findings: Findings) -> None:
    """Each user's read returns their accepted orders, each once, and no other user's rows."""
    placed: dict[str, set[str]] = {}
    for c in commands:
        if c.kind == "create_order" and c.verdict == "accepted":
            placed.setdefault(c.user, set()).add(str(c.body["order_id"]))
    url = f"http://127.0.0.1:{settings.read_api_port}/orders-with-invoices"
    with httpx.Client(timeout=30) as client:
        for user in sorted(placed):
            headers = {"Authorization": f"Bearer {issue_token(settings, user)}"}
            answer = client.get(url, params={"userId": user, "limit": 1000}, headers=headers)
            if answer.status_code != 200:
                findings.violations.append(f"read of {user}: {answer.status_code} {answer.text}")
                continue
            served_view.check_read(user, answer.json(), placed[user], findings)


def _check_poison(
    conn: psycopg.Connection[Any],
    records: list[dict[str, Any]],
    findings: Findings,
    broker_lost: str | None,
) -> None:
    table = sql.Identifier(RAW_SCHEMA, "dead_letter_events")
    query = sql.SQL("select message_sha256, reason from {}").format(table)
    reasons = dict(conn.execute(query).fetchall())
    names = {f.name for f in fields(Command)}
    for record in records:
        if record["kind"] != "poison" or record.get("offset") is None:
            continue
        command = Command(**{k: v for k, v in record.items() if k in names})
        digest = message_sha256(POISON_KEY, poison_message(command))
        reason = reasons.get(digest)
        findings.count("poison messages produced")
        if not reason and broker_lost and record["answered_at"] < broker_lost:
            findings.count("poison messages lost with the broker before ingest read them")
        elif not reason:
            where = json.dumps({k: record[k] for k in ("topic", "partition", "offset")})
            findings.violations.append(f"poison message {where} is not a dead letter")
