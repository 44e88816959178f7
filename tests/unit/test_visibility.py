"""The freshness benchmark counts a command only when its row is in an answer's body."""

from __future__ import annotations

from typing import Any

from bench.visibility import Visibility
from config.settings import Settings


def _record(kind: str, user: str, response: dict[str, Any], rid: str) -> dict[str, Any]:
    return {
        "id": rid,
        "kind": kind,
        "user": user,
        "status": 201,
        "response": response,
        "answered_at": "2026-12-06T10:00:00+00:00",
    }


def test_a_command_counts_when_its_row_is_in_the_body() -> None:
    watcher = Visibility(Settings())
    try:
        watcher.add(_record("create_order", "u1", {"order_id": "o1", "version": 1}, "c1"))
        watcher.add(_record("issue_invoice", "u1", {"order_id": "o1", "invoice_url": "a"}, "i1"))
        watcher.add(_record("issue_invoice", "u1", {"order_id": "o1", "invoice_url": "b"}, "i2"))
        watcher.add(_record("issue_invoice", "u2", {"order_id": "o9", "invoice_url": "x"}, "i3"))
        watcher.add(_record("cancel_order", "u1", {"order_id": "o1", "version": 2}, "x1"))
        watcher.add(_record("stock_increase", "u3", {"product_id": "p1", "version": 7}, "s1"))
        pending = watcher.pending
        assert set(pending) == {"c1", "i1", "i2", "x1", "s1"}
        assert watcher.unfollowed == 1  # i3: its order was never accepted
        assert len({p.source for p in pending.values()}) == 2  # one read per user or product

        orders = [{"orderId": "o1", "status": "invoiced", "invoiceUrl": "b"}]
        shows = {rid: watcher._shows(p, orders) for rid, p in pending.items() if rid != "s1"}
        # a later invoice of the same order stands for an earlier one; not yet cancelled
        assert shows == {"c1": True, "i1": True, "i2": True, "x1": False}
        assert not watcher._shows(pending["i2"], [{"orderId": "o1", "invoiceUrl": "a"}])
        assert not watcher._shows(pending["c1"], [])
        assert watcher._shows(pending["s1"], {"productId": "p1", "version": 8})
        assert not watcher._shows(pending["s1"], {"productId": "p1", "version": 6})
    finally:
        watcher.http.close()
