"""Products and their daily stock for bench/read_traffic.py, written to the marts and published.

Product ``i`` (``sku-000042``: zero-padded, so id order is number order) has an operation
every third day of the ``HISTORY_DAYS`` up to the last seeded day, alternately +10 and -3
units, one a day: stock never negative, version = operations folded. The rows go to
``marts.products`` and ``marts.product_stock_daily`` (one month partition each, as dbt's
partitioning macro makes them) and the pipeline's own publish step copies them to
``serving``. The orders bench/read_seed.py wrote to ``serving`` are mirrored into
``marts.orders_with_invoices`` first, so that later publications upsert what changed
instead of replacing the view: marts and serving hold the same rows, as after a real run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from psycopg import sql

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import MARTS_SCHEMA, SERVING_SCHEMA

HISTORY_DAYS = 120
_EVERY_DAYS = 3
_INCREASE, _DECREASE = 10, -3
SEED_WATERMARK = 1  # above the empty first publication's 0: the next one copies these rows
_DAILY = "product_stock_daily"
_DAILY_COLUMNS = (
    "product_id", "day", "stock", "net_change", "operation_count", "version",
    "last_operation_at", "changed_at_watermark",
)  # fmt: skip
_PRODUCT_COLUMNS = (
    "product_id", "stock", "version", "last_operation_at", "operation_count",
    "changed_at_watermark",
)  # fmt: skip


@dataclass(frozen=True)
class StockDay:
    day: date
    stock: int
    net_change: int
    version: int

    @property
    def last_operation_at(self) -> datetime:
        return datetime.combine(self.day, time(12), tzinfo=UTC)


def product_id(i: int) -> str:
    return f"sku-{i:06d}"


def stock_days(i: int, last_day: date) -> list[StockDay]:
    """Product ``i``'s days with an operation, oldest first, up to ``last_day``."""
    first = last_day - timedelta(days=HISTORY_DAYS - 1)
    days: list[StockDay] = []
    stock = 0
    for offset in range(i % _EVERY_DAYS, HISTORY_DAYS, _EVERY_DAYS):
        change = _INCREASE if len(days) % 2 == 0 else _DECREASE
        stock += change
        days.append(StockDay(first + timedelta(days=offset), stock, change, len(days) + 1))
    return days


def months(first: date, last: date) -> list[date]:
    """The first day of every month from ``first``'s to ``last``'s."""
    found: list[date] = []
    month = first.replace(day=1)
    while month <= last:
        found.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return found


def seed_products(settings: Settings, products: int, last_day: date) -> None:
    """Write ``products`` products and their history to the marts, partitions up to the month
    after ``last_day`` (publications during the run write the following days)."""
    first = last_day - timedelta(days=HISTORY_DAYS - 1)
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        for month in months(first, last_day + timedelta(days=31)):
            following = (month + timedelta(days=32)).replace(day=1)
            conn.execute(
                sql.SQL(
                    "create table if not exists {} partition of {} for values from ({}) to ({})"
                ).format(
                    sql.Identifier(MARTS_SCHEMA, f"{_DAILY}_{month:%Y%m}"),
                    sql.Identifier(MARTS_SCHEMA, _DAILY),
                    sql.Literal(month),
                    sql.Literal(following),
                )
            )
        daily = sql.SQL("copy {} ({}) from stdin").format(
            sql.Identifier(MARTS_SCHEMA, _DAILY),
            sql.SQL(", ").join(map(sql.Identifier, _DAILY_COLUMNS)),
        )
        latest: list[tuple[object, ...]] = []
        with conn.cursor().copy(daily) as copy:
            for i in range(products):
                days = stock_days(i, last_day)
                for d in days:
                    copy.write_row(
                        (product_id(i), d.day, d.stock, d.net_change, 1, d.version,
                         d.last_operation_at, SEED_WATERMARK)
                    )  # fmt: skip
                end = days[-1]
                latest.append(
                    (product_id(i), end.stock, end.version, end.last_operation_at, end.version,
                     SEED_WATERMARK)
                )  # fmt: skip
        current = sql.SQL("copy {} ({}) from stdin").format(
            sql.Identifier(MARTS_SCHEMA, "products"),
            sql.SQL(", ").join(map(sql.Identifier, _PRODUCT_COLUMNS)),
        )
        with conn.cursor().copy(current) as copy:
            for row in latest:
                copy.write_row(row)
        conn.commit()


def mirror_orders(settings: Settings) -> None:
    """``marts.orders_with_invoices`` as the seeded ``serving`` one: same rows, same watermark."""
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        conn.execute(
            sql.SQL("insert into {} select * from {}").format(
                sql.Identifier(MARTS_SCHEMA, "orders_with_invoices"),
                sql.Identifier(SERVING_SCHEMA, "orders_with_invoices"),
            )
        )
        conn.commit()
    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
        conn.execute("vacuum analyze marts.orders_with_invoices")
