"""``docs/events.md``, rendered from the catalogue and the payload schemas."""

from __future__ import annotations

from config.settings import REPO_ROOT
from contracts.catalog import CATALOGUE
from contracts.envelope import payload_schema

EVENTS_DOC = REPO_ROOT / "docs" / "events.md"

INTRO = """\
<!-- Generated from contracts/ by `python -m contracts.generate`: do not edit by hand. -->
# Event catalogue

`contracts/catalog.py` is the one registry of event types: for each, its versions, the
service that produces it, its partition key and the marts it feeds. The envelope's
`event_type` enum, the dbt sources, the quarantine list, the topic lists, `Mart.topics`,
the journeys' marts and this page are derived from it (`python -m contracts.generate`
rewrites the generated files; a unit test fails while one is stale). Adding an event type
is a short walk: [extending.md](extending.md).

Every event travels in one envelope, `contracts/envelope.schema.json`; its payload is
checked by `contracts/events/<event_type>.v<schema_version>.schema.json`. The contracts
are checked where an event is made (`contracts/envelope.py: make_event`, before it enters
the outbox) and where it is ingested (`ingest/decode.py`: a failure goes to
`raw.dead_letter_events` with the reason).

The contracts are as strict as the warehouse columns, so whatever passes them can be stored
and cast by dbt staging: integers are JSON integer literals (`x-integer-literal`: `1.0` and
`1e0` are refused, though JSON Schema's `integer` accepts them) within PostgreSQL's `int`
range, `occurred_at` lies in years 0001-9999, strings hold no NUL (`\\u0000`, which `jsonb`
and `text` cannot store); invalid UTF-8 and lone surrogates are refused when parsing.
"""

ENVELOPE = """
Envelope: `event_id` (UUID, the warehouse's dedupe key), `event_type`, `schema_version`,
`aggregate_id`, `aggregate_version` (1, 2, ... per aggregate; for stock, the version in
the operation log), `occurred_at` (RFC 3339, UTC, `Z`), `producer`, `request_id` (the
command's `X-Request-Id`), `trace` (W3C `traceparent`), `payload`, and `signature`: the
producer's Ed25519 signature over the rest. Its outbox relay signs each publish batch once,
over a Merkle tree of the batch's envelopes, and each envelope carries the proof that it is
in the signed batch (`version` 2, `key_id`, `value`: the signature of the root, `root`,
`index`, `size`, `path`); a signature of the envelope alone (`key_id`, `value`, from before
2026-12-06) is still taken. The ingest takes an event only if a trusted key of the producer
in the table above signed it; anything else is a dead letter with its reason
(docs/adr/signed-events.md). Kafka headers repeat
`event_type`, `event_id` and `traceparent` for tools that do not parse the value. The
partition key is the payload field that is also the `aggregate_id` and the Kafka message
key, so one aggregate's events stay in order on one partition.

## Versions and upcasting

A producer always writes the current version of its event. A change an old reader or an
old event could not survive gets a new version and a new contract file; the old contract
stays, because the log still holds events written with it. What counts as such a change,
and the check that refuses it, is in [compatibility.md](compatibility.md).

The log is never rewritten. The ingest job validates an event against the contract of the
version it was *written* in and stores it as it arrived: `raw.<topic>` holds v1 and v2
rows side by side, `schema_version` saying which. The staging model of the event type
(`stg_<producer>__<verb>`) upcasts every older version to the current shape in SQL, so the
intermediate models and marts read one shape. `contracts/upcasting.py` holds the same steps
for Python readers of raw (the load test's checks). Each step has a dbt unit test in the
staging model's YAML; `tests/integration/test_dbt_versions.py` folds mixed-version
histories through the real models into the same marts as the all-v1 history, and
`tests/integration/test_dbt_replay.py` holds the SQL upcasts to the Python ones (its oracle
upcasts in Python).

`order.created`'s `channel` is read by `stg_orders__created` (v1 reads as `unknown`) and
carried by `orders_with_invoices` to the read API ([views.md](views.md)).
"""


def _fields(schema: dict[str, object]) -> str:
    properties = schema.get("properties")
    assert isinstance(properties, dict)
    return ", ".join(f"`{name}`" for name in properties)


def render() -> str:
    rows = [
        "| topic = event_type | producer | partition key | versions (current last) "
        "| marts | staging model | current payload |",
        "|---|---|---|---|---|---|---|",
    ]
    history = ["", "## Versions of each event", ""]
    for event in CATALOGUE:
        current = payload_schema(event.name, event.current_version)
        versions = ", ".join(f"v{v}" for v in event.versions)
        marts = ", ".join(f"`{mart}`" for mart in event.marts)
        rows.append(
            f"| `{event.name}` | {event.producer} | `{event.partition_key}` | {versions} "
            f"| {marts} | `{event.staging_model}` | {_fields(current)} |"
        )
        for version in event.versions:
            schema = payload_schema(event.name, version)
            history.append(
                f"- `{event.name}` v{version} "
                f"(`contracts/events/{event.name}.v{version}.schema.json`): "
                f"{schema['description']} Fields: {_fields(schema)}."
            )
    return INTRO + "\n" + "\n".join(rows) + "\n" + ENVELOPE + "\n".join(history) + "\n"
