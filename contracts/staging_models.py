"""Staging models rendered from the payload contract, for event types staged by rule.

An event type with one version and nothing to upcast is staged the same way every time:
each payload field cast to the warehouse type its contract names, the envelope columns the
marts fold by, and a row whose field no cast can take left out (``stg_raw__quarantined``
lists it). The catalogue says which event types are staged by hand (an upcast, a special
index, relationship tests); the rest get ``stg_<producer>__<verb>.sql`` and its YAML here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.settings import DBT_PROJECT_DIR
from contracts.catalog import CATALOGUE, EventType
from contracts.envelope import payload_schema

STAGING_DIR = DBT_PROJECT_DIR / "models" / "staging"
GENERATED = "Generated from contracts/ by `python -m contracts.generate`: do not edit by hand."
ENVELOPE = ("aggregate_version", "occurred_at", "ingest_batch_id", "ingest_txid", "ingested_at")
ENVELOPE_DOCS = {
    "aggregate_version": "envelope__aggregate_version",
    "occurred_at": "envelope__occurred_at",
    "ingest_batch_id": "ingest_batch_id",
    "ingest_txid": "ingest_txid",
    "ingested_at": "ingested_at",
}


def staged_by_rule(catalogue: tuple[EventType, ...] = CATALOGUE) -> tuple[EventType, ...]:
    """The event types whose staging model is generated."""
    ruled = tuple(event for event in catalogue if not event.staged_by_hand)
    for event in ruled:
        if len(event.versions) > 1:
            raise ValueError(
                f"{event.name} has versions {event.versions}: its upcast is written by hand"
                " (staged_by_hand=True and a staging model of its own)"
            )
    return ruled


def _nullable(spec: dict[str, Any]) -> bool:
    kinds = spec.get("type")
    return isinstance(kinds, list) and "null" in kinds


def _cast(field: str, spec: dict[str, Any]) -> tuple[str, bool]:
    """The SQL reading one payload field, and whether a value can fail to cast (to null)."""
    text = f"source.payload ->> '{field}'"
    kinds = spec.get("type")
    kind = next((k for k in kinds if k != "null"), "string") if isinstance(kinds, list) else kinds
    if kind == "string" and spec.get("format") == "uuid":
        return f'{{{{ uuid_or_null("{text}") }}}}', True
    if kind == "string" and spec.get("format") == "date-time":
        return f"({text})::timestamptz", False
    if kind == "integer":
        return f'{{{{ bigint_or_null("{text}") }}}}', True
    if kind == "number":
        return f"({text})::numeric", False
    if kind == "boolean":
        return f"({text})::boolean", False
    if kind in ("object", "array"):
        return f"source.payload -> '{field}'", False
    return text, False


def render_sql(event: EventType) -> str:
    schema = payload_schema(event.name, event.current_version)
    required = set(schema.get("required", []))
    lines, checked = [], []
    for field, spec in schema["properties"].items():
        expression, may_fail = _cast(field, spec)
        lines.append(f"        {expression} as {field},")
        if may_fail and field in required and not _nullable(spec):
            checked.append(f"renamed.{field} is not null")
    envelope = "".join(f"        source.{column},\n" for column in ENVELOPE).rstrip(",\n")
    where = (
        "\n\n-- A value no cast could take leaves the row out; stg_raw__quarantined lists it.\n"
        f"where {' and '.join(checked)}\n"
        if checked
        else "\n"
    )
    # dbt source text from the repository's own contract, not a query run with values.
    return (
        f"-- {GENERATED}\n"  # noqa: S608
        "-- One row per event (event_id is raw's primary key), payload fields typed.\n"
        # a subquery, not a `with`: PostgreSQL flattens it into a join (stg_orders__created)
        "select * from (\n\n    select\n        source.event_id,\n"
        + "\n".join(lines)
        + "\n"
        + envelope
        + f"\n\n    from {{{{ source('raw', '{event.raw_table}') }}}} as source\n\n) as renamed"
        + where
    )


def render_yml(event: EventType) -> str:
    schema = payload_schema(event.name, event.current_version)
    required = set(schema.get("required", []))
    columns = [
        "      - name: event_id",
        "        description: \"{{ doc('envelope__event_id') }}\"",
        "        data_tests: [unique, not_null]",
    ]
    for field, spec in schema["properties"].items():
        columns += [
            f"      - name: {field}",
            f"        description: \"{{{{ doc('{event.raw_table}__{field}') }}}}\"",
        ]
        if field in required and not _nullable(spec):
            columns.append("        data_tests: [not_null]")
    for column in ENVELOPE:
        columns += [
            f"      - name: {column}",
            f"        description: \"{{{{ doc('{ENVELOPE_DOCS[column]}') }}}}\"",
        ]
    return (
        f"# {GENERATED}\n"
        "version: 2\n\nmodels:\n"
        f"  - name: {event.staging_model}\n"
        f"    description: One row per `{event.name}` event (unique by event_id), payload fields"
        " typed.\n"
        "    columns:\n" + "\n".join(columns) + "\n"
    )


def files() -> dict[Path, tuple[EventType, str]]:
    """Each generated file and what renders it: (event type, ``sql`` or ``yml``)."""
    return {
        STAGING_DIR / f"{event.staging_model}.{kind}": (event, kind)
        for event in staged_by_rule()
        for kind in ("sql", "yml")
    }


def render(event: EventType, kind: str) -> str:
    return render_sql(event) if kind == "sql" else render_yml(event)
