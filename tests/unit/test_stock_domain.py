"""Stock aggregate: the fold and the decisions (no IO)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.errors import Conflict
from services.stock import domain
from services.stock.domain import ChangeStock, ProductStock, StockOperation


def ops(*signed: int) -> list[StockOperation]:
    return [
        StockOperation(i, "increase" if d > 0 else "decrease", abs(d))
        for i, d in enumerate(signed, start=1)
    ]


def test_fold_sums_signed_amounts_and_counts_versions() -> None:
    state = domain.fold(ProductStock("p"), ops(10, -3, 5, -12))
    assert (state.stock, state.version) == (0, 4)


def test_fold_from_a_snapshot_continues_the_versions() -> None:
    snapshot = domain.fold(ProductStock("p"), ops(10, -3))
    tail = [StockOperation(3, "increase", 5), StockOperation(4, "decrease", 2)]
    assert domain.fold(snapshot, tail) == ProductStock("p", 10, 4)


def test_fold_refuses_a_gap_in_versions() -> None:
    with pytest.raises(domain.LogGap):
        domain.fold(ProductStock("p"), [StockOperation(2, "increase", 1)])


def test_decrease_below_zero_is_refused_with_current_stock() -> None:
    state = ProductStock("p", 3, 7)
    with pytest.raises(domain.InsufficientStock) as refused:
        domain.decide(state, ChangeStock("p", "decrease", 4))
    assert isinstance(refused.value, Conflict)
    assert refused.value.details["stock"] == 3


def test_decide_records_the_next_version() -> None:
    op, event = domain.decide(ProductStock("p", 3, 7), ChangeStock("p", "decrease", 3))
    assert op == StockOperation(8, "decrease", 3)
    assert (event.event_type, event.aggregate_id, event.aggregate_version) == (
        "stock.updated",
        "p",
        8,
    )
    assert event.payload == {"product_id": "p", "operation": "decrease", "stock_amount": 3}


@given(
    st.lists(st.tuples(st.sampled_from(["increase", "decrease"]), st.integers(1, 50)), max_size=60)
)
def test_accepted_commands_never_take_stock_below_zero(commands: list[tuple[str, int]]) -> None:
    state = ProductStock("p")
    accepted: list[StockOperation] = []
    for operation, amount in commands:
        try:
            op, _ = domain.decide(state, ChangeStock("p", operation, amount))  # type: ignore[arg-type]
        except domain.InsufficientStock:
            assert operation == "decrease" and amount > state.stock
            continue
        state = domain.apply(state, op)
        accepted.append(op)
        assert state.stock >= 0
    assert state.stock == sum(op.delta for op in accepted)
    assert state.version == len(accepted)
    assert domain.fold(ProductStock("p"), accepted) == state
