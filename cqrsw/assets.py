"""Airflow assets: the published serving views, which other DAGs can be scheduled on.

A DAG that should run whenever fresh orders are published declares
``schedule=[ORDERS_WITH_INVOICES]``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset


def _serving_view(name: str) -> Asset:
    return Asset(name=f"serving.{name}", uri=f"x-cqrsw://warehouse/serving/{name}", group="serving")


ORDERS_WITH_INVOICES = _serving_view("orders_with_invoices")
PRODUCTS = _serving_view("products")
PRODUCT_STOCK_DAILY = _serving_view("product_stock_daily")

SERVING_VIEWS = [ORDERS_WITH_INVOICES, PRODUCTS, PRODUCT_STOCK_DAILY]


def describe_publication(outlet_events: Any, published: dict[str, int]) -> None:
    """Attach each view's row count to its asset event; a view not published says so."""
    for asset in SERVING_VIEWS:
        view = asset.name.removeprefix("serving.")
        outlet_events[asset].extra = {"published": view in published, "rows": published.get(view)}
