"""The published views against the record of commands and answers, row by row (pure).

Every row is checked as served, duplicates included: a view is compared as the list of
its rows, never first folded into a mapping that would hide a row served twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date
from typing import Any

from loadtest.expectations import Event, Expectation, Findings


def twice(view: str, keys: Iterable[Any], findings: Findings) -> None:
    """A violation for each key a view serves more than once."""
    for key, n in Counter(keys).items():
        if n > 1:
            findings.violations.append(f"serving.{view}: {key} is served {n} times")


def product_of(command: Expectation) -> str:
    return command.path.split("/")[2]


def answered_stock(commands: Iterable[Expectation]) -> tuple[dict[str, int], set[str]]:
    """Stock per product folded from the accepted answers alone, and products left unknown."""
    stock: dict[str, int] = defaultdict(int)
    unknown = set()
    for command in commands:
        if not command.kind.startswith("stock_"):
            continue
        product = product_of(command)
        if command.verdict == "unknown":
            unknown.add(product)
        elif command.verdict == "accepted":
            sign = 1 if command.kind == "stock_increase" else -1
            stock[product] += sign * int(command.body["stock_amount"])
        else:
            stock[product] += 0  # refused: the product is known, at whatever it holds
    return dict(stock), unknown


def check_products(
    rows: list[tuple[str, int]], commands: list[Expectation], findings: Findings, strict: bool
) -> None:
    """``serving.products`` holds each product once, at the stock its accepted answers fold to.

    ``strict``: no other traffic, so a product the record never touched must not be served.
    """
    twice("products", (product for product, _ in rows), findings)
    served = dict(rows)
    expected, unknown = answered_stock(commands)
    for product, stock in served.items():
        if stock < 0:
            findings.violations.append(f"serving.products: {product} has stock {stock}")
    for product in sorted(set(expected) | (set(served) if strict else set())):
        if product in unknown:
            # Only within the bound on unknown outcomes that check_events asserts.
            findings.count("products with a command of unknown outcome (not compared)")
            continue
        want = expected.get(product, 0)
        if served.get(product, 0) != want:
            findings.violations.append(
                f"serving.products: {product} stock {served.get(product)},"
                f" the accepted answers fold to {want}"
            )
    findings.count("products served", len(rows))


def check_stock_days(
    rows: list[tuple[str, date, int]], events: list[Event], findings: Findings
) -> None:
    """``serving.product_stock_daily`` has one row per product and day with operations, at
    the stock the log folds to by that day's end (UTC)."""
    twice("product_stock_daily", ((product, day) for product, day, _ in rows), findings)
    moves: dict[tuple[str, date], int] = defaultdict(int)
    for event in events:
        if event.event_type == "stock.updated" and event.occurred_at is not None:
            sign = 1 if event.payload["operation"] == "increase" else -1
            moves[(event.aggregate_id, event.occurred_at.astimezone(UTC).date())] += sign * int(
                event.payload["stock_amount"]
            )
    expected: dict[tuple[str, date], int] = {}
    level: dict[str, int] = defaultdict(int)
    for product, day in sorted(moves):
        level[product] += moves[(product, day)]
        expected[(product, day)] = level[product]
    served = {(product, day): stock for product, day, stock in rows}
    for key in sorted(set(expected) | set(served)):
        if served.get(key) != expected.get(key):
            product, day = key
            findings.violations.append(
                f"serving.product_stock_daily: {product} on {day} has {served.get(key)},"
                f" the log folds to {expected.get(key)} by that day's end"
            )
    findings.count("product days served", len(rows))


def check_orders(
    rows: list[tuple[str, str, str, str | None]],
    commands: list[Expectation],
    findings: Findings,
    strict: bool,
) -> None:
    """``serving.orders_with_invoices``: each accepted order once, under its user, with the
    status and invoice URL its accepted commands give it; refused orders absent.

    ``strict``: no other traffic, so an order no command created must not be served.
    """
    twice("orders_with_invoices", (order_id for order_id, *_ in rows), findings)
    served = {order_id: (user, status, url) for order_id, user, status, url in rows}
    creates = {str(c.body["order_id"]): c for c in commands if c.kind == "create_order"}
    cancelled = {
        c.path.split("/")[2]
        for c in commands
        if c.kind == "cancel_order" and c.verdict == "accepted"
    }
    invoiced: dict[str, set[str]] = defaultdict(set)
    undecided = set()  # orders with a cancel or invoice of unknown outcome
    for c in commands:
        if c.kind == "issue_invoice" and c.verdict == "accepted" and c.response is not None:
            invoiced[str(c.body["order_id"])].add(str(c.response["invoice_url"]))
        if c.kind == "issue_invoice" and c.verdict == "unknown":
            undecided.add(str(c.body["order_id"]))
        if c.kind == "cancel_order" and c.verdict == "unknown":
            undecided.add(c.path.split("/")[2])
    for order_id, command in creates.items():
        row = served.get(order_id)
        if row is None:
            if command.verdict == "accepted":
                findings.violations.append(f"accepted order {order_id} is not served")
            continue
        user, status, url = row
        if command.verdict == "refused":
            findings.violations.append(f"refused order {order_id} is served")
        if user != command.user:
            findings.violations.append(f"order {order_id} of {command.user} is served to {user}")
        if order_id in undecided:
            findings.count("orders with a change of unknown outcome (status not compared)")
            continue
        want = (
            "cancelled"
            if order_id in cancelled
            else "invoiced"
            if invoiced[order_id]
            else "created"
        )
        if status != want:
            findings.violations.append(f"order {order_id} is served {status}, not {want}")
        urls = invoiced[order_id]
        if (url is None) != (not urls) or (url is not None and url not in urls):
            findings.violations.append(
                f"order {order_id} is served invoice {url}, its accepted invoices: {sorted(urls)}"
            )
    strangers = [order_id for order_id in served if order_id not in creates]
    if strict and strangers:
        findings.violations.append(f"{len(strangers)} served orders no command created")
    findings.count("orders served", len(rows))


def check_read(user: str, rows: list[dict[str, Any]], placed: set[str], findings: Findings) -> None:
    """One user's read: their accepted orders, each once, and no other user's rows."""
    findings.count("reads through the read API")
    strangers = {row["userId"] for row in rows} - {user}
    if strangers:
        findings.violations.append(f"read of {user} returned rows of {sorted(strangers)}")
    twice(f"read of {user}", (row["orderId"] for row in rows), findings)
    missing = placed - {row["orderId"] for row in rows}
    if missing:
        findings.violations.append(f"read of {user} misses accepted orders {sorted(missing)}")
