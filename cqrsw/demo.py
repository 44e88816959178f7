"""``make demo``: real HTTP commands through every layer, then the rows the read API serves."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from config.settings import Settings
from services.tokens import BILLING, STOCK, issue_token
from stack.airflow import prepare_airflow, run_airflow
from stack.lifecycle import Stack

PIPELINE_DAG = "cqrs_warehouse_pipeline"


class DemoFailed(RuntimeError):
    pass


class Client:
    """The front end's view: HTTP calls with a bearer token."""

    def __init__(self, base: str, token: str):
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body, headers={"X-Request-Id": f"demo-{uuid.uuid4()}"})
        if response.status_code >= 300:
            raise DemoFailed(f"POST {path} -> {response.status_code}: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def get(
        self, path: str, *, position: str | None = None, allow: tuple[int, ...] = (), **params: str
    ) -> httpx.Response:
        headers = {} if position is None else {"X-Position-Token": position}
        response = self.http.get(path, params=params, headers=headers)
        if response.status_code != 200 and response.status_code not in allow:
            raise DemoFailed(f"GET {path} -> {response.status_code}: {response.text}")
        return response


def freshness(response: httpx.Response) -> str:
    """What the read API says about how fresh its answer is."""
    newest = response.headers.get("X-View-Newest-Event-At", "-")
    return (
        f"  view {response.headers['X-View']}: published {response.headers['X-View-Published-At']}"
        f", newest event {newest}"
    )


def not_served_yet(answer: httpx.Response) -> str | None:
    """Why the write a read asked about is not in the answer yet, or None if it is."""
    if answer.status_code == 503:
        return "nothing published yet"
    if answer.headers.get("X-Position-Included") == "true":
        return None
    return str(answer.headers.get("X-Position-Stage", "?"))


def run_pipeline(settings: Settings, console: Console, label: str) -> None:
    started = time.monotonic()
    run_airflow(settings, "dags", "test", PIPELINE_DAG)
    console.print(
        f"  airflow dags test {PIPELINE_DAG} ({label}):"
        f" success in {time.monotonic() - started:.0f}s"
    )


def run_pipeline_until_included(
    settings: Settings,
    console: Console,
    label: str,
    writes: list[tuple[str, str, str]],
    enough: tuple[str, ...] = (),
) -> None:
    """Run the pipeline until the read API says each write is in what it serves.

    ``writes`` are (user, read path, position token of the write). A write the outbox relay
    had not published when the ingest started is reported not included: run again.
    ``enough`` names stages that also count as done: an invoice issued before its order
    changes no row until the order arrives, so for it "ingested" is as far as it gets.
    """
    read = f"http://127.0.0.1:{settings.read_api_port}"
    for _attempt in range(3):
        run_pipeline(settings, console, label)
        stages = []
        for user, path, token in writes:
            client = Client(read, issue_token(settings, user))
            params = {"userId": user} if path == "/orders-with-invoices" else {}
            stage = not_served_yet(client.get(path, position=token, allow=(503,), **params))
            if stage is not None and stage not in enough:
                stages.append(stage)
        if not stages:
            done = "included" if not enough else f"included or {' / '.join(enough)}"
            console.print(f"  the read API says all {len(writes)} position tokens are {done}")
            return
        console.print(f"  not included yet ({', '.join(stages)}): running the pipeline again")
    raise DemoFailed("the pipeline did not bring the demo's writes into the views")


def send_commands(settings: Settings, console: Console) -> str:
    """Place orders and invoices as two users; return the id of the order invoiced first."""
    url = "http://127.0.0.1:{}".format
    alice_token, bob_token = issue_token(settings, "alice"), issue_token(settings, "bob")
    orders = {
        "alice": Client(url(settings.orders_port), alice_token),
        "bob": Client(url(settings.orders_port), bob_token),
    }
    # Invoices and stock changes are staff work: a billing clerk and a stock keeper.
    billing = Client(url(settings.invoices_port), issue_token(settings, "bill", roles=[BILLING]))

    early = str(uuid.uuid4())
    console.print(f"1. invoice for order {early[:8]} issued BEFORE the order exists")
    lone = billing.post("/invoices", {"order_id": early})
    # No waiting for the relay either: the read API says when the invoice is served.
    run_pipeline_until_included(
        settings,
        console,
        "the invoice alone",
        [("alice", "/orders-with-invoices", lone["position_token"])],
        enough=("ingested",),  # in raw: it joins its order's row once the order arrives
    )

    console.print("2. orders, invoices and a cancellation from alice and bob")
    orders["alice"].post(
        "/orders",
        {
            "order_id": early,
            "customer_name": "Alice Anderson",
            "items": [{"product_id": "sku-1", "quantity": 2}],
        },
    )
    paid = orders["alice"].post("/orders", {"customer_name": "Alice Anderson"})
    billing.post(
        "/invoices",
        {
            "order_id": paid["order_id"],
            "invoice_url": "https://billing.example.com/inv/alice-2.pdf",
        },
    )
    orders["alice"].post("/orders", {"customer_name": "Alice Anderson"})  # never invoiced
    bobs = orders["bob"].post("/orders", {"customer_name": "Bob Brown"})
    bobs_invoice = billing.post("/invoices", {"order_id": bobs["order_id"]})
    dropped = orders["bob"].post("/orders", {"customer_name": "Bob Brown"})
    cancelled = orders["bob"].post(
        f"/orders/{dropped['order_id']}/cancel", {"reason": "changed my mind"}
    )
    console.print("3. stock of sku-1: +20, -5, then -100 is refused with the current stock")
    stock = Client(url(settings.stock_port), issue_token(settings, "stan", roles=[STOCK]))
    operations = "/products/sku-1/stock-operations"
    stock.post(operations, {"operation": "increase", "stock_amount": 20})
    after = stock.post(operations, {"operation": "decrease", "stock_amount": 5})
    refused = stock.http.post(
        "/products/sku-1/stock-operations", json={"operation": "decrease", "stock_amount": 100}
    )
    if refused.status_code != 409:
        raise DemoFailed(f"an oversell was not refused: {refused.status_code} {refused.text}")
    console.print(
        f"  stock now {after['stock']} (version {after['version']}); -100 -> 409 {refused.json()}"
    )
    # No waiting for the relays: the last write of each service says when it is served.
    run_pipeline_until_included(
        settings,
        console,
        "the orders",
        [
            ("bob", "/orders-with-invoices", cancelled["position_token"]),
            ("bob", "/orders-with-invoices", bobs_invoice["position_token"]),
            ("alice", "/products/sku-1/stock", after["position_token"]),
        ],
    )
    return early


def print_views(settings: Settings, console: Console, early: str) -> None:
    read = f"http://127.0.0.1:{settings.read_api_port}"
    found_early = False
    for user in ("alice", "bob"):
        answer = Client(read, issue_token(settings, user)).get("/orders-with-invoices", userId=user)
        rows = answer.json()
        table = Table(title=f"GET /orders-with-invoices?userId={user}")
        for column in ("orderId", "customerName", "createdAt", "status"):
            table.add_column(column, no_wrap=True, min_width=len(column))
        table.add_column("invoiceUrl", overflow="fold")
        table.add_column("note")
        for row in rows:
            is_early = row["orderId"] == early
            found_early |= is_early and row["invoiceUrl"] is not None
            table.add_row(
                row["orderId"][:8],
                row["customerName"],
                row["createdAt"][:19],
                row["status"],
                row["invoiceUrl"] or "-",
                "invoice arrived first" if is_early else "",
            )
        console.print(table)
        console.print(freshness(answer))
    if not found_early:
        raise DemoFailed("the order whose invoice arrived first is missing its invoice")
    stock = Client(read, issue_token(settings, "alice")).http.get("/products/sku-1/stock")
    if stock.status_code != 200:
        raise DemoFailed(f"GET /products/sku-1/stock -> {stock.status_code}: {stock.text}")
    body = stock.json()
    console.print(
        f"GET /products/sku-1/stock: stock {body['stock']}, version {body['version']},"
        f" last operation {body['lastOperationAt'][:19]}"
    )
    console.print(freshness(stock))


def run_demo(settings: Settings, console: Console) -> int:
    stack = Stack(settings)
    try:
        console.rule("cqrs-warehouse demo")
        for part, where in stack.up(services=True).items():
            console.print(f"  {part:9} {where}")
        prepare_airflow(settings)  # metadata database, login, dbt manifest for Cosmos
        early = send_commands(settings, console)
        print_views(settings, console, early)
        console.rule("demo finished")
        return 0
    except DemoFailed as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        return 1
    finally:
        stopped = stack.stop_started()
        if stopped:
            console.print(f"stopped: {', '.join(stopped)}")
