"""What the pipeline knows, in one place: topics, raw tables, marts and their Airflow assets."""

from __future__ import annotations

from contracts.catalog import TOPICS, raw_table
from database.warehouse import MARTS, RAW_SCHEMA, SERVING_SCHEMA, Mart

RAW_TABLES: dict[str, str] = {topic: f"{RAW_SCHEMA}.{raw_table(topic)}" for topic in TOPICS}


def asset_name(mart: Mart) -> str:
    """The Airflow asset a published mart is: ``serving.<mart>``."""
    return f"{SERVING_SCHEMA}.{mart.name}"


def asset_uri(mart: Mart) -> str:
    return f"x-cqrsw://warehouse/{SERVING_SCHEMA}/{mart.name}"


__all__ = ["MARTS", "RAW_TABLES", "TOPICS", "Mart", "asset_name", "asset_uri"]
