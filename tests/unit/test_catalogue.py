"""contracts/ is the one registry: what is derived from it is current and agrees with it."""

from __future__ import annotations

import orjson
import pytest

from config.settings import DBT_PROJECT_DIR
from contracts import compatibility, dbt_sources, generate
from contracts.catalog import BY_NAME, CATALOGUE, EVENT_TYPES, MARTS_OF, TOPICS, EventType
from contracts.envelope import envelope_schema, payload_schema
from database.warehouse import MARTS, MARTS_BY_NAME
from quality.suites import MART_SUITES, key_suite, mart_suites
from services.events import DomainEvent


def test_every_generated_file_is_current() -> None:
    # Stale: run `python -m contracts.generate` and commit the result.
    assert generate.stale() == []


def test_the_envelope_enum_is_the_catalogue() -> None:
    assert tuple(envelope_schema()["properties"]["event_type"]["enum"]) == EVENT_TYPES == TOPICS


@pytest.mark.parametrize("event", CATALOGUE, ids=lambda e: e.name)
def test_each_entry_names_what_exists(event: EventType) -> None:
    for version in event.versions:
        schema = payload_schema(event.name, version)
        assert event.partition_key in schema["required"], (event.name, version)
    assert set(event.marts) <= set(MARTS_BY_NAME), event.marts
    assert (DBT_PROJECT_DIR / "models" / "staging" / f"{event.staging_model}.sql").is_file()
    assert (DBT_PROJECT_DIR / "models" / "staging" / f"{event.staging_model}.yml").is_file()


def test_marts_and_their_topics_come_from_the_catalogue() -> None:
    for mart in MARTS:
        assert mart.topics, f"{mart.name}: no event type in contracts/catalog.py feeds it"
        assert all(mart.name in MARTS_OF[topic] for topic in mart.topics)
    assert "stock.updated" in MARTS_BY_NAME["products"].topics
    orders = MARTS_BY_NAME["orders_with_invoices"].topics
    assert {"order.created", "order.cancelled", "invoice.created"} <= set(orders)
    assert "stock.updated" not in orders


def test_producers_write_the_current_version_of_every_event_type() -> None:
    import services.invoices.domain  # the classes register on import
    import services.orders.domain
    import services.stock.domain  # noqa: F401

    written = {t: cls.schema_version for t, cls in DomainEvent.registry.items()}
    assert written == {e.name: e.current_version for e in CATALOGUE}


def test_a_mart_without_a_suite_of_its_own_gets_its_keys_checked() -> None:
    names = [suite.table for suite in mart_suites()]
    assert names == [mart.name for mart in MARTS]
    assert set(MART_SUITES) <= set(MARTS_BY_NAME)
    bare = key_suite(MARTS_BY_NAME["product_stock_daily"])
    kinds = [type(check).__name__ for check in bare.expectations]
    assert kinds == [
        "ExpectColumnValuesToNotBeNull",
        "ExpectColumnValuesToNotBeNull",
        "ExpectCompoundColumnsToBeUnique",
    ]


def test_the_compose_topics_are_generated_from_the_catalogue() -> None:
    text = generate.KAFKA_INIT_SCRIPT.read_text()
    created = [line.split("--topic ")[1].split()[0] for line in text.splitlines()
               if line.startswith("kafka topics --create")]  # fmt: skip
    assert tuple(created) == TOPICS
    assert BY_NAME["stock.updated"].staging_model == "stg_stock__updated"
    macro = dbt_sources.STAGED_MACRO_FILE.read_text()
    assert all(f"('{e.raw_table}', '{e.staging_model}')" in macro for e in CATALOGUE)
    assert orjson.loads(compatibility.ENVELOPE_FILE.read_bytes()) == envelope_schema()
