"""The dbt sources of the raw tables and the staging models' list, rendered from the catalogue.

The raw tables are one per event type (``contracts/catalog.py``); the two tables of the
ingest's own bookkeeping are fixed and written here once.
"""

from __future__ import annotations

from config.settings import DBT_PROJECT_DIR
from contracts.catalog import CATALOGUE, events_keyed_by, staging_models_feeding

SOURCES_FILE = DBT_PROJECT_DIR / "models" / "staging" / "_staging__sources.yml"
STAGED_MACRO_FILE = DBT_PROJECT_DIR / "macros" / "staged_events.sql"

GENERATED = "Generated from contracts/ by `python -m contracts.generate`: do not edit by hand."

ENVELOPE_COLUMNS = (
    "event_id",
    "event_type",
    "schema_version",
    "aggregate_id",
    "aggregate_version",
    "occurred_at",
    "producer",
    "request_id",
    "trace",
    "payload",
)
INGEST_COLUMNS = (
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "ingest_batch_id",
    "ingested_at",
    "ingest_txid",
)

HEAD = f"""# {GENERATED}
version: 2

sources:
  - name: raw
    schema: raw
    description: >
      Events exactly as the ingest job read them from Kafka, one table per topic, after
      validation against the contracts in `contracts/`. Each event is kept in the payload
      version it was written in (`schema_version`); the staging models upcast older ones.
      Written only by the ingest job; each row's Kafka offset is committed in the same
      transaction. Table and envelope column descriptions are generated from the contracts
      (`_contracts__docs.md`).
    config:
      loaded_at_field: ingested_at
      # A topic silent for hours usually means a stopped producer, relay or ingest: warn.
      # Not an error: a quiet topic (no cancellations today, a new deployment with empty
      # tables) is not bad data, and the pipeline's own lag is watched by record_freshness.
      freshness:
        warn_after: {{count: 6, period: hour}}
    tables:
"""

INGEST_TABLES = """
      - name: ingest_offsets
        description: >
          Next Kafka offset to read per topic partition, written in the same transaction
          as the rows it covers (exactly-once effect).
        config:
          freshness: null
        columns:
          - name: topic
            description: Kafka topic.
          - name: partition
            description: Kafka partition of the topic.
          - name: next_offset
            description: Offset of the next message to read (never negative).
          - name: last_message_sha256
            description: >
              sha256 of the message at next_offset - 1; a different message there means the
              broker lost its log and the partition is read again from the start.
          - name: updated_at
            description: When the offset was last moved.
          - name: topic_id
            description: >
              The broker's id of the topic when the offset was stored; another id means the
              topic was created again (a broker that lost its log) and the partition is read
              again from the start.

      - name: dead_letter_events
        description: >
          Messages the ingest job could not accept (not JSON, envelope or payload failing
          its contract, unknown event type), kept with the reason rather than dropped.
          Any row here needs a person to look at it.
        config:
          freshness: null
        columns:
          - name: id
            description: Surrogate key.
            data_tests:
              - unique
              - not_null
          - name: kafka_topic
            description: "{{ doc('kafka_topic') }}"
          - name: kafka_partition
            description: "{{ doc('kafka_partition') }}"
          - name: kafka_offset
            description: "{{ doc('kafka_offset') }}"
          - name: message_key
            description: Raw Kafka message key (bytea), as received.
          - name: message_value
            description: Raw Kafka message value (bytea), as received.
          - name: message_sha256
            description: sha256 of key and value; the same bad message read twice is kept once.
          - name: reason
            description: Why the message was rejected.
            data_tests:
              - not_null
          - name: ingest_batch_id
            description: "{{ doc('ingest_batch_id') }}"
          - name: ingested_at
            description: "{{ doc('ingested_at') }}"
"""


def _columns() -> str:
    lines = []
    for column in ENVELOPE_COLUMNS:
        lines.append(f"          - name: {column}")
        lines.append(f"            description: \"{{{{ doc('envelope__{column}') }}}}\"")
        if column == "event_id":
            lines += [
                "            data_tests:",
                "              - unique",
                "              - not_null",
            ]
    for column in INGEST_COLUMNS:
        lines.append(f"          - name: {column}")
        lines.append(f"            description: \"{{{{ doc('{column}') }}}}\"")
    return "\n".join(lines)


def render_sources() -> str:
    """``_staging__sources.yml``: one source table per event type, then the ingest's own."""
    parts = [HEAD]
    for i, event in enumerate(CATALOGUE):
        columns = f" &envelope_columns\n{_columns()}" if i == 0 else " *envelope_columns"
        parts.append(
            f"      - name: {event.raw_table}\n"
            f"        description: \"{{{{ doc('contract__{event.raw_table}') }}}}\"\n"
            f"        data_tests:\n"
            f"          - accepted_values:\n"
            f"              arguments:\n"
            f"                column_name: event_type\n"
            f'                values: ["{event.name}"]\n'
            f"        columns:{columns}\n\n"
        )
    return "".join(parts).rstrip("\n") + "\n" + INGEST_TABLES


def render_staged_macro() -> str:
    """A macro listing (raw table, staging model) per event type, for stg_raw__quarantined."""
    pairs = ",\n".join(
        f"        ('{event.raw_table}', '{event.staging_model}')" for event in CATALOGUE
    )
    marts = sorted({mart for event in CATALOGUE for mart in event.marts})
    feeding = ",\n".join(
        f"        '{mart}': {list(staging_models_feeding(mart))}" for mart in marts
    )
    keys = sorted({event.partition_key for event in CATALOGUE})
    keyed = ",\n".join(
        f"        '{key}': {[(e.name, e.staging_model) for e in events_keyed_by(key)]}"
        for key in keys
    )
    return (
        f"{{#- {GENERATED} -#}}\n\n"
        "{#- Each raw table of an event type and the staging model that reads it. -#}\n"
        "{% macro staged_events() -%}\n"
        f"    {{{{ return([\n{pairs},\n    ]) }}}}\n"
        "{%- endmacro %}\n\n"
        "{#- The staging models of the event types a mart is folded from. -#}\n"
        "{% macro staging_models_feeding(mart) -%}\n"
        f"    {{{{ return({{\n{feeding},\n    }}[mart]) }}}}\n"
        "{%- endmacro %}\n\n"
        "{#- (event type, staging model) of one aggregate's events: those keyed by `key`. -#}\n"
        "{% macro events_keyed_by(key) -%}\n"
        f"    {{{{ return({{\n{keyed},\n    }}[key]) }}}}\n"
        "{%- endmacro %}\n"
    )
