"""dbt docs: generated from the live warehouse, every model, source and column described."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from config.settings import DBT_PROJECT_DIR, Settings
from pipeline.dbt import run_dbt
from tests.support.raw_events import (
    ingest_events,
    invoice_created,
    order_cancelled,
    order_created,
    stock_updated,
)


def undocumented(node: dict[str, Any], catalog_node: dict[str, Any]) -> list[str]:
    """What is missing a description: the node itself or any column the database has."""
    missing = [] if node["description"].strip() else [node["name"]]
    described = {name.lower(): col["description"] for name, col in node["columns"].items()}
    for column in catalog_node["columns"]:
        text = described.get(column.lower(), "")
        if not text.strip() or "{{" in text:
            missing.append(f"{node['name']}.{column}")
    return missing


def test_docs_generate_describes_every_model_source_and_column(settings: Settings) -> None:
    run_dbt(settings, "build", quiet=True)
    run_dbt(settings, "docs", "generate", quiet=True)
    target = DBT_PROJECT_DIR / "target"
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    assert (target / "index.html").is_file()

    models = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    assert {n["name"] for n in models.values()} >= {
        "orders_with_invoices", "products", "product_stock_daily",
    }  # fmt: skip
    # An ephemeral (intermediate) model has no relation, so no catalog entry: it must declare
    # its columns, and each must be described.
    ephemeral = {k for k, n in models.items() if n["config"]["materialized"] == "ephemeral"}
    assert ephemeral and all(models[k]["columns"] for k in ephemeral)
    assert not ephemeral & set(catalog["nodes"])
    missing = [
        m
        for k, n in models.items()
        for m in undocumented(n, catalog["nodes"].get(k) or {"columns": n["columns"]})
    ]
    missing += [
        m for k, n in manifest["sources"].items() for m in undocumented(n, catalog["sources"][k])
    ]
    assert missing == []
    stock = manifest["sources"]["source.cqrs_warehouse.raw.stock_updated"]["description"]
    assert "contracts/events/stock.updated.v2.schema.json" in stock


def test_sources_are_fresh_after_an_ingest(settings: Settings) -> None:
    order_id, now = str(uuid.uuid4()), datetime.now(UTC)
    ingest_events(
        settings,
        [
            order_created(order_id, "fresh", now),
            order_cancelled(order_id, now),
            invoice_created(order_id, now),
            stock_updated(f"sku-{uuid.uuid4().hex[:8]}", 1, 1, now),
        ],
    )
    output = run_dbt(settings, "source", "freshness", quiet=True)
    assert output.count("PASS freshness of raw.") == 4
