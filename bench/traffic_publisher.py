"""Publications during bench/read_traffic.py's load, at the pace the continuous pipeline keeps.

Every ``every_s`` a thread does what one publishing run changes: new orders in the orders and
invoices services' tables (what the BFF reads), the same orders and a few stock operations
in the marts, then the pipeline's own publish step (pipeline/publish.py): upserts into
``serving``, a row in ``serving.publications`` and the ``NOTIFY`` on which every read API
drops what it kept of each view. The mart rows stand in for the incremental ``dbt build``
that would write them: dbt runs on the pipeline's workers, not on the read path, and its
cost here would only take the cores the read path is measured on.
"""

from __future__ import annotations

import itertools
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from bench.product_seed import SEED_WATERMARK, product_id
from bench.read_seed import ITEMS, orders
from bench.traffic import Seeded, zipf
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import MARTS_SCHEMA
from pipeline.publish import publish_views

ORDERS_PER_RUN = 24  # about 4 commands/s over a run of 10 s, as bench/freshness.py drives
STOCK_OPERATIONS_PER_RUN = 16
_ORDER_COLUMNS = (
    "order_id", "user_id", "customer_name", "items", "status", "version", "created_at",
    "updated_at",
)  # fmt: skip
_INVOICE_COLUMNS = ("invoice_id", "order_id", "invoice_url", "issued_by", "created_at")


@dataclass
class Published:
    """What the publisher did: when each publication ended, how long it took, what it wrote."""

    ended_at: list[float] = field(default_factory=list)  # time.monotonic()
    seconds: list[float] = field(default_factory=list)
    views: dict[str, int] = field(default_factory=dict)  # publications per view
    failures: list[str] = field(default_factory=list)

    def between(self, start: float, end: float) -> int:
        return sum(start <= at < end for at in self.ended_at)

    def describe(self) -> str:
        if not self.seconds:
            return "no publication"
        gaps = [b - a for a, b in itertools.pairwise(self.ended_at)]
        per_view = ", ".join(f"{view} {n}" for view, n in sorted(self.views.items()))
        return (
            f"{len(self.seconds)} publications ({per_view}), one every"
            f" {statistics.median(gaps) if gaps else 0:.1f} s (median), each"
            f" {statistics.median(self.seconds):.2f} s ({min(self.seconds):.2f}-"
            f"{max(self.seconds):.2f}) to write and publish, {len(self.failures)} failed"
        )


class Publisher:
    """Publishes every ``every_s`` in a thread until ``stop``; ``published`` says what it did."""

    def __init__(self, settings: Settings, seeded: Seeded, every_s: float, rng: random.Random):
        self.settings, self.seeded, self.every_s, self.rng = settings, seeded, every_s, rng
        self.published = Published()
        self._next_order = seeded.orders
        self._watermark = SEED_WATERMARK
        self._products = zipf(seeded.products, 1.0, rng)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            started = time.monotonic()
            try:
                written = self.publish_once()
            except (psycopg.Error, RuntimeError) as exc:
                self.published.failures.append(str(exc))
                continue
            self.published.seconds.append(time.monotonic() - started)
            self.published.ended_at.append(time.monotonic())
            for view in written:
                self.published.views[view] = self.published.views.get(view, 0) + 1

    def publish_once(self) -> dict[str, int]:
        """One run's changes, written and published; the rows written per view published."""
        self._watermark += 1
        start, self._next_order = self._next_order, self._next_order + ORDERS_PER_RUN
        new = list(orders(self._next_order, self.seeded.users, start=start))
        with connections.connect(self.settings, "orders") as conn:
            conn.cursor().executemany(
                _insert(sql.Identifier("orders"), _ORDER_COLUMNS),
                [
                    (o["order_id"], o["user_id"], o["customer_name"], ITEMS,
                     "cancelled" if o["cancelled_at"] else "created",
                     2 if o["cancelled_at"] else 1, o["created_at"],
                     o["cancelled_at"] or o["created_at"])
                    for o in new
                ],
            )  # fmt: skip
            conn.commit()
        with connections.connect(self.settings, "invoices") as conn:
            conn.cursor().executemany(
                _insert(sql.Identifier("invoices"), _INVOICE_COLUMNS),
                [
                    (o["invoice_id"], o["order_id"], o["invoice_url"], "bench-billing",
                     o["invoice_at"])
                    for o in new
                    if o["invoice_id"] is not None
                ],
            )  # fmt: skip
            conn.commit()
        with connections.connect(self.settings, WAREHOUSE_DATABASE) as conn:
            self._write_marts(conn, new)
            conn.commit()
        return publish_views(self.settings)

    def _write_marts(self, conn: psycopg.Connection, new: list[dict[str, object]]) -> None:
        served = [
            str(r[0])
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s"
                " and table_name = 'orders_with_invoices' order by ordinal_position",
                (MARTS_SCHEMA,),
            ).fetchall()
        ]
        rows = [[{"changed_at_watermark": self._watermark, **o}[c] for c in served] for o in new]
        conn.cursor().executemany(
            _insert(sql.Identifier(MARTS_SCHEMA, "orders_with_invoices"), served), rows
        )
        now = datetime.now(UTC)
        for rank in self._products(STOCK_OPERATIONS_PER_RUN):
            pid = product_id(rank)
            conn.execute(
                "update marts.products set stock = stock + 1, version = version + 1,"
                " operation_count = operation_count + 1, last_operation_at = %s,"
                " changed_at_watermark = %s where product_id = %s",
                (now, self._watermark, pid),
            )
            # The day's closing row: this operation's day, after the seeded history.
            day = self.seeded.last_day + timedelta(days=1)
            conn.execute(
                "insert into marts.product_stock_daily (product_id, day, stock, net_change,"
                " operation_count, version, last_operation_at, changed_at_watermark)"
                " select product_id, %s, stock, 1, 1, version, last_operation_at,"
                " changed_at_watermark from marts.products where product_id = %s"
                " on conflict (product_id, day) do update set stock = excluded.stock,"
                " net_change = product_stock_daily.net_change + 1,"
                " operation_count = product_stock_daily.operation_count + 1,"
                " version = excluded.version, last_operation_at = excluded.last_operation_at,"
                " changed_at_watermark = excluded.changed_at_watermark",
                (day, pid),
            )


def _insert(table: sql.Composable, columns: tuple[str, ...] | list[str]) -> sql.Composed:
    return sql.SQL("insert into {} ({}) values ({})").format(
        table,
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
