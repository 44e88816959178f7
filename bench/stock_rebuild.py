"""Loading a product's stock from the latest snapshot vs replaying its whole log.

One product with 100,000 operations (snapshot every 100) in the real embedded PostgreSQL.
Prints the median of several loads each way and, last, the ratio it is judged by:
``ratio=<full replay time / snapshot time>`` (judged against more than 20).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import UTC, datetime

from config.settings import Settings
from database import connections
from services.stock.repository import PostgresStockRepository
from tests.support.throwaway_stack import throwaway_stack


def fill(settings: Settings, product: str, operations: int, snapshot_every: int) -> int:
    """Write the log (and the snapshots the service would have taken) with COPY; return stock."""
    stock, now = 0, datetime.now(UTC)
    with connections.connect(settings, "stock") as conn:
        with conn.cursor() as cur:
            with cur.copy(
                "copy product_stock_operations"
                " (product_id, version, operation, amount, event_id, occurred_at) from stdin"
            ) as copy:
                snapshots = []
                for version in range(1, operations + 1):
                    operation = "decrease" if version % 3 == 0 and stock >= 2 else "increase"
                    amount = 2 if operation == "decrease" else 1
                    stock += amount if operation == "increase" else -amount
                    copy.write_row((product, version, operation, amount, uuid.uuid4(), now))
                    if version % snapshot_every == 0:
                        snapshots.append((product, version, stock))
            with cur.copy(
                "copy product_stock_snapshots (product_id, version, stock) from stdin"
            ) as copy:
                for row in snapshots:
                    copy.write_row(row)
        conn.execute("analyze product_stock_operations")
    return stock


def median_ms(
    settings: Settings, product: str, use_snapshots: bool, runs: int
) -> tuple[float, int]:
    times, stock = [], -1
    with connections.connect(settings, "stock") as conn:
        for _ in range(runs):
            t0 = time.perf_counter()
            state = PostgresStockRepository(conn).load(product, use_snapshots=use_snapshots)
            times.append((time.perf_counter() - t0) * 1000)
            stock = state.stock
            conn.rollback()
    return statistics.median(times), stock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--operations", type=int, default=100_000)
    parser.add_argument("--snapshot-every", type=int, default=100)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with throwaway_stack(kafka=False) as settings:
        product = "bench-product"
        expected = fill(settings, product, args.operations, args.snapshot_every)
        snap_ms, snap_stock = median_ms(settings, product, True, args.runs)
        replay_ms, replay_stock = median_ms(settings, product, False, args.runs)
    assert snap_stock == replay_stock == expected, (snap_stock, replay_stock, expected)
    print(f"operations={args.operations} snapshot_every={args.snapshot_every} runs={args.runs}")
    print(f"stock={expected} (same from snapshot and from full replay)")
    print(f"ratio={replay_ms / snap_ms:.1f} snapshot_ms={snap_ms:.2f} replay_ms={replay_ms:.1f}")


if __name__ == "__main__":
    main()
