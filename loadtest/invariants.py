"""Check a load run's record against the warehouse after a pipeline pass (``cqrsw check``).

Holds when: every accepted command has exactly one event in raw and shows in the published
views; refused commands left nothing; stock in the views equals the fold of the log, has
no version gaps and is never negative; every poison message is a dead letter with its
reason; no order is served under another user than the one who placed it.
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
        _check_products(conn, commands, folded, findings)
        _check_orders(conn, commands, findings)
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
            " payload from {}"
        ).format(table)
        # raw keeps each event in the version it was written in: read them in one shape
        for request_id, event_type, aggregate_id, version, schema_version, payload in conn.execute(
            query
        ):
            payload = upcast_payload(event_type, schema_version, payload)
            events.append(Event(request_id, event_type, aggregate_id, version, payload))
    return events


def _serving(conn: psycopg.Connection[Any], query: str, view: str) -> list[tuple[Any, ...]]:
    return conn.execute(sql.SQL(query).format(sql.Identifier(SERVING_SCHEMA, view))).fetchall()


def _check_products(
    conn: psycopg.Connection[Any],
    commands: list[Expectation],
    folded: dict[str, int],
    findings: Findings,
) -> None:
    served = dict(_serving(conn, "select product_id, stock from {}", "products"))
    for product, stock in served.items():
        if stock < 0:
            findings.violations.append(f"serving.products: {product} has stock {stock}")
    for product, level in folded.items():
        if served.get(product) != level:
            findings.violations.append(
                f"serving.products: {product} stock {served.get(product)}, the log folds to {level}"
            )
    # The answers alone fold to the same stock, where every answer is known.
    stock_commands = [c for c in commands if c.kind.startswith("stock_")]
    for product in {c.path.split("/")[2] for c in stock_commands}:
        mine = [c for c in stock_commands if c.path.split("/")[2] == product]
        if any(c.verdict == "unknown" for c in mine):
            findings.count("products with an unknown outcome (answers not folded)")
            continue
        level = sum(
            (1 if c.kind == "stock_increase" else -1) * int(c.body["stock_amount"])
            for c in mine
            if c.verdict == "accepted"
        )
        if folded.get(product, 0) != level:
            findings.violations.append(
                f"{product}: accepted answers fold to {level}, raw to {folded.get(product, 0)}"
            )


def _check_orders(
    conn: psycopg.Connection[Any], commands: list[Expectation], findings: Findings
) -> None:
    rows = _serving(conn, "select order_id::text, user_id, status from {}", "orders_with_invoices")
    served = {order_id: (user, status) for order_id, user, status in rows}
    creates = {str(c.body["order_id"]): c for c in commands if c.kind == "create_order"}
    cancelled = {
        c.path.split("/")[2]
        for c in commands
        if c.kind == "cancel_order" and c.verdict == "accepted"
    }
    for order_id, command in creates.items():
        row = served.get(order_id)
        if command.verdict == "accepted" and row is None:
            findings.violations.append(f"accepted order {order_id} is not in the served view")
        elif row is not None and row[0] != command.user:
            findings.violations.append(f"order {order_id} of {command.user} is served to {row[0]}")
        elif row is not None and order_id in cancelled and row[1] != "cancelled":
            findings.violations.append(f"cancelled order {order_id} is served as {row[1]}")
        elif command.verdict == "refused" and row is not None:
            findings.violations.append(f"refused order {order_id} is in the served view")
    findings.count("orders served", len(served))


def _check_reads(
    settings: Settings, commands: list[Expectation], findings: Findings, users: int = 20
) -> None:
    """Each user's read returns their accepted orders, and no other user's rows."""
    placed: dict[str, set[str]] = {}
    for c in commands:
        if c.kind == "create_order" and c.verdict == "accepted":
            placed.setdefault(c.user, set()).add(str(c.body["order_id"]))
    url = f"http://127.0.0.1:{settings.read_api_port}/orders-with-invoices"
    for user in sorted(placed)[:users]:
        headers = {"Authorization": f"Bearer {issue_token(settings, user)}"}
        answer = httpx.get(url, params={"userId": user, "limit": 1000}, headers=headers)
        findings.count("reads through the read API")
        if answer.status_code != 200:
            findings.violations.append(f"read of {user}: {answer.status_code} {answer.text}")
            continue
        rows = answer.json()
        strangers = {row["userId"] for row in rows} - {user}
        if strangers:
            findings.violations.append(f"read of {user} returned rows of {sorted(strangers)}")
        missing = placed[user] - {row["orderId"] for row in rows}
        if missing:
            findings.violations.append(f"read of {user} misses accepted orders {sorted(missing)}")


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
