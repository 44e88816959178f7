"""The published views, row by row, against what the commands' answers oblige them to hold."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from loadtest.expectations import Event, Findings, expectations
from loadtest.served import check_orders, check_products, check_read, check_stock_days


def command(rid: str, kind: str, path: str, body: dict[str, Any], status: int | None,
            response: dict[str, Any] | None = None, user: str = "u") -> dict[str, Any]:  # fmt: skip
    return {
        "id": rid, "kind": kind, "user": user, "path": path, "body": body,
        "idempotency_key": rid, "status": status, "response": response or {},
    }  # fmt: skip


def stock(rid: str, kind: str, amount: int, status: int | None) -> dict[str, Any]:
    operation = kind.removeprefix("stock_")
    body = {"operation": operation, "stock_amount": amount}
    return command(rid, kind, "/products/p/stock-operations", body, status)


def found(check: Any, *args: Any) -> list[str]:
    findings = Findings()
    check(*args[:2], findings, *args[2:])
    return findings.violations


def test_products_equal_the_fold_of_the_accepted_answers_row_by_row() -> None:
    commands = expectations(
        [
            stock("a", "stock_increase", 5, 201),
            stock("b", "stock_decrease", 9, 409),
            stock("c", "stock_decrease", 2, 201),
        ]
    )
    assert found(check_products, [("p", 3)], commands, True) == []
    assert found(check_products, [("p", 5)], commands, True)
    # a row served twice is a violation even when both rows are right
    [twice] = found(check_products, [("p", 3), ("p", 3)], commands, True)
    assert twice == "serving.products: p is served 2 times"
    assert found(check_products, [("p", 3), ("q", 1)], commands, True)
    assert found(check_products, [("p", 3), ("q", 1)], commands, False) == []


def test_a_product_with_an_unknown_outcome_is_not_compared() -> None:
    commands = expectations(
        [stock("a", "stock_increase", 5, 201), stock("b", "stock_increase", 1, None)]
    )
    findings = Findings()
    check_products([("p", 6)], commands, findings, True)
    assert not findings.violations
    assert findings.figures["products with a command of unknown outcome (not compared)"] == 1


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def op(version: int, operation: str, amount: int, when: datetime) -> Event:
    payload = {"operation": operation, "stock_amount": amount}
    return Event(None, "stock.updated", "p", version, payload, when)


def test_each_stock_day_holds_the_fold_by_its_end() -> None:
    log = [
        op(1, "increase", 5, at(1)),
        op(2, "decrease", 2, at(1, 23)),
        op(3, "increase", 4, at(3)),
    ]
    right = [("p", date(2026, 12, 1), 3), ("p", date(2026, 12, 3), 7)]
    assert found(check_stock_days, right, log) == []
    assert found(check_stock_days, [right[0], ("p", date(2026, 12, 3), 9)], log)
    assert found(check_stock_days, right[:1], log)  # a day missing
    assert found(check_stock_days, [*right, ("p", date(2026, 12, 2), 3)], log)  # a day extra
    assert found(check_stock_days, [*right, right[1]], log)  # a day twice


def order(rid: str, order_id: str, status: int | None, user: str = "u") -> dict[str, Any]:
    return command(rid, "create_order", "/orders", {"order_id": order_id}, status, user=user)


def test_orders_are_served_once_with_their_user_status_and_invoice() -> None:
    invoice = command("i", "issue_invoice", "/invoices", {"order_id": "o1"}, 201,
                      {"invoice_url": "https://x/1.pdf"})  # fmt: skip
    cancel = command("c", "cancel_order", "/orders/o2/cancel", {}, 201)
    commands = expectations(
        [order("a", "o1", 201), order("b", "o2", 201), order("r", "o3", 409), invoice, cancel]
    )
    right = [("o1", "u", "invoiced", "https://x/1.pdf"), ("o2", "u", "cancelled", None)]
    assert found(check_orders, right, commands, True) == []
    assert found(check_orders, [*right, right[0]], commands, True)  # served twice
    assert found(check_orders, right[:1], commands, True)  # accepted, not served
    assert found(check_orders, [right[0], ("o2", "u", "created", None)], commands, True)
    assert found(
        check_orders, [("o1", "u", "invoiced", "https://x/2.pdf"), right[1]], commands, True
    )
    assert found(check_orders, [("o1", "u", "created", None), right[1]], commands, True)
    assert found(check_orders, [right[0], ("o2", "v", "cancelled", None)], commands, True)
    assert found(check_orders, [*right, ("o3", "u", "created", None)], commands, True)


def test_a_read_returns_the_users_orders_once_and_nobody_elses() -> None:
    mine = [{"orderId": "o1", "userId": "u"}, {"orderId": "o2", "userId": "u"}]

    def read(rows: list[dict[str, str]]) -> list[str]:
        findings = Findings()
        check_read("u", rows, {"o1", "o2"}, findings)
        return findings.violations

    assert read(mine) == []
    assert read(mine[:1])
    assert read([*mine, mine[0]])
    assert read([*mine, {"orderId": "o9", "userId": "v"}])
