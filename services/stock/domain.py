"""Product stock aggregate: its event, the fold of operations into state, decisions (no IO)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from services.errors import Conflict
from services.events import DomainEvent

Operation = Literal["increase", "decrease"]


@dataclass(frozen=True)
class ChangeStock:
    product_id: str
    operation: Operation
    stock_amount: int


@dataclass(frozen=True)
class StockOperation:
    """One entry of the log: the operation that took the product to ``version``."""

    version: int
    operation: Operation
    amount: int

    @property
    def delta(self) -> int:
        return self.amount if self.operation == "increase" else -self.amount


@dataclass(frozen=True)
class StockUpdated(DomainEvent, event_type="stock.updated", schema_version=2):
    product_id: str
    operation: Operation
    stock_amount: int

    @property
    def aggregate_id(self) -> str:
        return self.product_id


@dataclass(frozen=True)
class ProductStock:
    product_id: str
    stock: int = 0
    version: int = 0


class InsufficientStock(Conflict):
    """A decrease would take stock below zero."""


class LogGap(RuntimeError):
    """The log handed to the fold skips or repeats a version: the store is corrupt."""


def apply(state: ProductStock, op: StockOperation) -> ProductStock:
    if op.version != state.version + 1:
        raise LogGap(f"{state.product_id}: version {op.version} follows {state.version}")
    return ProductStock(state.product_id, state.stock + op.delta, op.version)


def fold(state: ProductStock, ops: Iterable[StockOperation]) -> ProductStock:
    """State after ``ops``, starting from ``state`` (empty, or a snapshot)."""
    for op in ops:
        state = apply(state, op)
    return state


def decide(state: ProductStock, cmd: ChangeStock) -> tuple[StockOperation, StockUpdated]:
    """The next operation for ``cmd``, or ``InsufficientStock`` with the current stock."""
    if cmd.operation == "decrease" and cmd.stock_amount > state.stock:
        raise InsufficientStock(
            "not enough stock",
            product_id=state.product_id,
            stock=state.stock,
            requested=cmd.stock_amount,
        )
    op = StockOperation(state.version + 1, cmd.operation, cmd.stock_amount)
    event = StockUpdated(
        aggregate_version=op.version,
        product_id=state.product_id,
        operation=op.operation,
        stock_amount=op.amount,
    )
    return op, event
