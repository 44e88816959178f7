"""Airflow assets: the published serving views, which other DAGs can be scheduled on.

A DAG that should run whenever fresh orders are published declares
``schedule=[SERVING_VIEWS["orders_with_invoices"]]``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset

from pipeline.registry import MARTS, asset_name, asset_uri

SERVING_VIEWS: dict[str, Asset] = {
    mart.name: Asset(name=asset_name(mart), uri=asset_uri(mart), group="serving") for mart in MARTS
}


def describe_publication(outlet_events: Any, published: dict[str, int]) -> None:
    """Attach each view's row count to its asset event; a view not published says so."""
    for view, asset in SERVING_VIEWS.items():
        outlet_events[asset].extra = {"published": view in published, "rows": published.get(view)}
