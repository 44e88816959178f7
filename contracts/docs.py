"""dbt docs blocks generated from ``contracts/``, so the warehouse docs cannot drift from them.

``python -m contracts.generate`` rewrites the file; a unit test fails while it is stale.
"""

from __future__ import annotations

from typing import Any

from config.settings import DBT_PROJECT_DIR
from contracts.catalog import BY_NAME, CURRENT_SCHEMA_VERSION, EVENT_TYPES, raw_table
from contracts.envelope import envelope_schema, payload_schema

DOCS_FILE = DBT_PROJECT_DIR / "models" / "staging" / "_contracts__docs.md"

HEADER = "{# Generated from contracts/ by `python -m contracts.generate`: do not edit by hand. #}\n"


def json_type(spec: dict[str, Any]) -> str:
    """A short human reading of a JSON Schema property's type."""
    kinds = spec.get("type", "any")
    kind = " or ".join(kinds) if isinstance(kinds, list) else str(kinds)
    if "enum" in spec:
        return f"{kind}: " + ", ".join(f"`{value}`" for value in spec["enum"])
    if "format" in spec:
        return f"{kind} ({spec['format']})"
    if kind == "array" and "properties" in spec.get("items", {}):
        return "array of {" + ", ".join(spec["items"]["properties"]) + "}"
    if "minimum" in spec and "maximum" in spec:
        return f"{kind} {spec['minimum']} to {spec['maximum']}"
    if "minimum" in spec:
        return f"{kind} >= {spec['minimum']}"
    return kind


def block(name: str, text: str) -> str:
    return f"{{% docs {name} %}}\n{text.strip()}\n{{% enddocs %}}\n"


def payload_table(schema: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for field, spec in schema["properties"].items():
        rows.append(
            f"| `{field}` | {json_type(spec)} | {'yes' if field in required else 'no'} "
            f"| {spec.get('description', '')} |"
        )
    return "\n".join(rows)


def event_doc(event_type: str) -> str:
    version = CURRENT_SCHEMA_VERSION[event_type]
    schema = payload_schema(event_type, version)
    older = ", ".join(f"v{v}" for v in BY_NAME[event_type].versions if v != version)
    staging = BY_NAME[event_type].staging_model
    upcast = (
        f" Older versions ({older}) stay in raw as they were written; `{staging}` upcasts them."
        if older
        else ""
    )
    return (
        f"`{event_type}` events: {schema['description']}\n\n"
        f"Payload v{version} (`contracts/events/{event_type}.v{version}.schema.json`).{upcast}\n\n"
        f"{payload_table(schema)}"
    )


def render() -> str:
    """The docs file: one block per envelope field, per event type and per payload field."""
    parts = [HEADER]
    for field, spec in envelope_schema()["properties"].items():
        parts.append(block(f"envelope__{field}", spec["description"]))
    for event_type in EVENT_TYPES:
        table = raw_table(event_type)
        parts.append(block(f"contract__{table}", event_doc(event_type)))
        schema = payload_schema(event_type, CURRENT_SCHEMA_VERSION[event_type])
        for field, spec in schema["properties"].items():
            text = spec.get("description") or f"`{field}`: {json_type(spec)}."
            parts.append(block(f"{table}__{field}", text))
    return "\n".join(parts)
