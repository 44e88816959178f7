"""The warehouse's layout: where raw events land, where dbt builds the marts, what readers see."""

from __future__ import annotations

from dataclasses import dataclass

RAW_SCHEMA = "raw"
MARTS_SCHEMA = "marts"  # built and tested by dbt; nothing reads them there
SERVING_SCHEMA = "serving"  # what passed every check, published for the read API


@dataclass(frozen=True)
class Mart:
    """A view table dbt builds and the pipeline publishes, with its primary key."""

    name: str
    key: tuple[str, ...]


MARTS: tuple[Mart, ...] = (
    Mart("orders_with_invoices", ("order_id",)),
    Mart("products", ("product_id",)),
    Mart("product_stock_daily", ("product_id", "day")),
)
