"""The warehouse docs come from contracts/: the generated docs are current and used."""

from __future__ import annotations

from typing import Any

import yaml

from config.settings import DBT_PROJECT_DIR
from contracts import docs as contract_docs
from contracts.catalog import EVENT_TYPES, raw_table
from contracts.envelope import envelope_schema
from contracts.signatures import SIGNATURE
from ingest.warehouse import RAW_COLUMNS

SOURCES = DBT_PROJECT_DIR / "models" / "staging" / "_staging__sources.yml"


def source_tables() -> dict[str, dict[str, Any]]:
    [raw] = yaml.safe_load(SOURCES.read_text())["sources"]
    return {table["name"]: table for table in raw["tables"]}


def test_generated_docs_are_current_with_the_contracts() -> None:
    # Stale: run `python -m contracts.generate` and commit the result.
    assert contract_docs.DOCS_FILE.read_text() == contract_docs.render()


def test_every_topic_is_a_source_documented_from_its_contract() -> None:
    tables = source_tables()
    for event_type in EVENT_TYPES:
        table = tables[raw_table(event_type)]
        assert table["description"] == f"{{{{ doc('contract__{raw_table(event_type)}') }}}}"
        columns = {c["name"]: c["description"] for c in table["columns"]}
        assert list(columns) == [*RAW_COLUMNS, "ingested_at", "ingest_txid"]
        for field in envelope_schema()["properties"]:
            if field == SIGNATURE:
                continue  # verified by the ingest, not stored: no column (signed-events ADR)
            assert columns[field] == f"{{{{ doc('envelope__{field}') }}}}"


def test_payload_fields_get_their_contract_description() -> None:
    rendered = contract_docs.render()
    assert (
        "{% docs stock_updated__operation %}\nDirection of the change.\n{% enddocs %}" in rendered
    )
    assert (
        "| `stock_amount` | integer 1 to 1000000000 | yes"
        " | Units added or removed (always positive). |" in rendered
    )
    assert (
        "Older versions (v1) stay in raw as they were written; `stg_orders__created` upcasts them."
        in rendered
    )
