"""The load generator's traffic: a deterministic stream of commands drawn from a seed (pure)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal[
    "create_order", "cancel_order", "issue_invoice", "stock_increase", "stock_decrease", "poison"
]
# Share of each kind in the mix; retries and early invoices are drawn on top of these.
MIX: dict[Kind, float] = {
    "create_order": 0.35,
    "issue_invoice": 0.2,
    "cancel_order": 0.08,
    "stock_increase": 0.17,
    "stock_decrease": 0.18,
    "poison": 0.02,
}
POISON_KEY = b"poison"
POISON_KINDS = ("not json", "no envelope", "bad payload", "unknown version")


@dataclass(frozen=True)
class Command:
    """One thing the load generator sends: an HTTP command, or a poison message for Kafka.

    ``id`` is the request's ``X-Request-Id``, which the service copies into the event's
    envelope: how the checker finds the event a command made. A retry has an id of its own
    and the ``idempotency_key`` (and body) of the command it retries (``retry_of``).
    ``resolves``: sent after the load, when every earlier attempt was answered or gave up,
    to learn what an attempt without a known outcome did (loadtest/resolution.py).
    """

    seq: int
    id: str
    kind: Kind
    user: str
    service: str  # orders, invoices, stock, or kafka for poison
    path: str  # the URL path, or the topic for poison
    body: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    retry_of: str | None = None
    poison: str | None = None  # what is wrong with the message, for poison
    resolves: bool = False

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrafficShape:
    """How the traffic looks: who sends, on what, and how often things go wrong."""

    users: int = 50
    hot_products: int = 3
    retry_share: float = 0.05
    early_invoice_share: float = 0.1
    poison_share: float = MIX["poison"]


class Traffic:
    """An endless, reproducible stream of commands: the same seed gives the same commands."""

    def __init__(self, seed: int, shape: TrafficShape | None = None):
        self.random = random.Random(seed)
        self.shape = shape or TrafficShape()
        self.seq = 0
        self.orders: list[tuple[str, str]] = []  # (user, order_id) created so far
        self.promised: list[tuple[str, str]] = []  # invoiced before their order: create later
        self.sent: list[Command] = []  # recent commands, for retries
        mix = {**MIX, "poison": self.shape.poison_share}
        self.kinds: list[Kind] = list(mix)
        self.weights = list(mix.values())

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def __iter__(self) -> Iterator[Command]:
        return self

    def __next__(self) -> Command:
        self.seq += 1
        if self.sent and self.random.random() < self.shape.retry_share:
            return self._retry(self.random.choice(self.sent[-50:]))
        kind = self.random.choices(self.kinds, self.weights)[0]
        make: dict[Kind, Callable[[], Command]] = {
            "create_order": self._create_order,
            "issue_invoice": self._issue_invoice,
            "cancel_order": self._cancel_order,
            "stock_increase": self._stock_increase,
            "stock_decrease": self._stock_decrease,
            "poison": self._poison,
        }
        command = make[kind]()
        if command.idempotency_key is not None:
            self.sent = [*self.sent[-99:], command]
        return command

    def _command(self, kind: Kind, user: str, service: str, path: str, **rest: Any) -> Command:
        key = self.uuid() if service != "kafka" else None
        seq, rid = self.seq, self.uuid()
        return Command(seq, rid, kind, user, service, path, idempotency_key=key, **rest)

    def _user(self) -> str:
        return f"user-{self.random.randrange(self.shape.users):04d}"

    def _product(self) -> str:
        return f"hot-{self.random.randrange(self.shape.hot_products)}"

    def _retry(self, first: Command) -> Command:
        return Command(
            self.seq,
            self.uuid(),
            first.kind,
            first.user,
            first.service,
            first.path,
            body=first.body,
            idempotency_key=first.idempotency_key,
            retry_of=first.id,
        )

    def _create_order(self) -> Command:
        if self.promised and self.random.random() < 0.5:
            user, order_id = self.promised.pop(0)
        else:
            user, order_id = self._user(), self.uuid()
        self.orders.append((user, order_id))
        lines = self.random.randint(0, 3)
        items = [
            {"product_id": self._product(), "quantity": self.random.randint(1, 5)}
            for _ in range(lines)
        ]
        body = {"order_id": order_id, "customer_name": f"Customer {user}", "items": items}
        return self._command("create_order", user, "orders", "/orders", body=body)

    def _issue_invoice(self) -> Command:
        if not self.orders or self.random.random() < self.shape.early_invoice_share:
            user, order_id = self._user(), self.uuid()
            self.promised.append((user, order_id))  # its order comes later
        else:
            user, order_id = self.random.choice(self.orders[-200:])
        return self._command(
            "issue_invoice", user, "invoices", "/invoices", body={"order_id": order_id}
        )

    def _cancel_order(self) -> Command:
        if not self.orders:
            return self._create_order()
        user, order_id = self.random.choice(self.orders[-200:])
        path = f"/orders/{order_id}/cancel"
        return self._command("cancel_order", user, "orders", path, body={"reason": "load test"})

    def _stock(self, kind: Kind, operation: str, top: int) -> Command:
        path = f"/products/{self._product()}/stock-operations"
        body = {"operation": operation, "stock_amount": self.random.randint(1, top)}
        return self._command(kind, self._user(), "stock", path, body=body)

    def _stock_increase(self) -> Command:
        return self._stock("stock_increase", "increase", 10)

    def _stock_decrease(self) -> Command:
        return self._stock("stock_decrease", "decrease", 12)

    def _poison(self) -> Command:
        what = self.random.choice(POISON_KINDS)
        topic = self.random.choice(("order.created", "invoice.created", "stock.updated"))
        return self._command("poison", "-", "kafka", topic, poison=what)


def poison_message(command: Command) -> bytes:
    """The bytes of a poison message: unique per command, so each is its own dead letter."""
    marker = command.id
    if command.poison == "not json":
        return f"{{not json {marker}".encode()
    envelope: dict[str, Any] = {
        "event_id": marker,
        "event_type": command.path,
        "schema_version": 1,
        "aggregate_id": marker,
        "aggregate_version": 1,
        "occurred_at": "2026-01-01T00:00:00Z",
        "producer": "loadgen",
        "request_id": marker,
        "trace": {},
        "payload": {"unexpected": True},
    }
    if command.poison == "no envelope":
        envelope = {"hello": marker}
    elif command.poison == "unknown version":
        envelope["schema_version"] = 999
    return json.dumps(envelope).encode()
