"""Table shapes the revisions share, each written once: a revision calls them, nothing else does.

Every statement is idempotent (``if not exists``), so a revision that adds one of these
tables also recognises a database where an earlier version of the project made it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from config.database_settings import DbRole
from contracts.catalog import raw_table
from database.warehouse import RAW_PARTITION_MONTHS_AHEAD, RAW_SCHEMA


class Operations(Protocol):
    """What the helpers use of Alembic's ``op`` (the module a revision imports)."""

    def execute(self, sqltext: str, /) -> None: ...


_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def identifier(name: str) -> str:
    """``name`` if it is a plain lowercase SQL identifier (DDL takes no parameters)."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


@contextmanager
def owned_by(op: Operations, role: DbRole) -> Iterator[None]:
    """What the block creates belongs to ``role``: it runs as that role, not as the admin.

    Default privileges (``database.roles.grant_reads``) follow the creating role, so the
    readers of a schema can read tables its owner makes later."""
    op.execute(f"set role {identifier(role.login)}")
    yield
    op.execute("reset role")


def create_schema(op: Operations, schema: str, owner: DbRole) -> None:
    op.execute(
        f"create schema if not exists {identifier(schema)} authorization {identifier(owner.login)}"
    )


def create_raw_table(op: Operations, topic: str) -> None:
    """The raw table of one topic: the envelope as it arrived, the payload, where it was read.

    ``ingest_txid`` is the incremental watermark of the dbt models: the id of the transaction
    that wrote the row (64-bit, never wraps), a default so that every writer gets it right
    (docs/adr/incremental-watermark.md). The table is partitioned by month of ``ingested_at``
    (docs/adr/raw-partitions.md): ``raw.create_partitions`` makes its partitions (here, in a
    warehouse that has it; then at every ingest run), and ``raw.event_ids`` keeps ``event_id``
    unique across them. Run it as the raw schema's owner
    (``owned_by``)."""
    table = f"{RAW_SCHEMA}.{identifier(raw_table(topic))}"
    op.execute(f"""
        create table if not exists {table} (
            event_id          uuid not null,
            event_type        text not null,
            schema_version    int not null,
            aggregate_id      text not null,
            aggregate_version int not null,
            occurred_at       timestamptz not null,
            producer          text not null,
            request_id        text,
            trace             jsonb not null,
            payload           jsonb not null,
            kafka_topic       text not null,
            kafka_partition   int not null,
            kafka_offset      bigint not null,
            ingest_batch_id   bigint not null,
            ingested_at       timestamptz not null default now(),
            ingest_txid       bigint not null default pg_current_xact_id()::text::bigint
        ) partition by range (ingested_at)
    """)
    op.execute(
        f"create index if not exists {identifier(raw_table(topic))}_ingest_txid"
        f" on {table} (ingest_txid)"
    )
    # Its partitions at once, once the warehouse has the function (revision 0004 and later).
    op.execute(f"""
        do $$
        begin
            if to_regproc('{RAW_SCHEMA}.create_partitions') is not null then
                perform {RAW_SCHEMA}.create_partitions({int(RAW_PARTITION_MONTHS_AHEAD)});
            end if;
        end
        $$
    """)


def index_occurred_at(op: Operations, topic: str) -> None:
    """An index on ``occurred_at``: the freshness record reads each table's newest event."""
    name = identifier(raw_table(topic))
    op.execute(
        f"create index if not exists {name}_occurred_at on {RAW_SCHEMA}.{name} (occurred_at)"
    )


def index_payload_uuid(op: Operations, topic: str, key: str) -> None:
    """An index on ``payload ->> key`` as a uuid: for models that re-read an entity's events."""
    name = identifier(raw_table(topic))
    op.execute(
        f"create index if not exists {name}_{identifier(key)}"
        f" on {RAW_SCHEMA}.{name} (((payload ->> '{identifier(key)}')::uuid))"
    )


def create_outbox(op: Operations) -> None:
    """A write service's transactional outbox (services/outbox.py) and its relay's index."""
    op.execute("""
        create table if not exists outbox (
            id           bigserial primary key,
            event_id     uuid not null unique,
            topic        text not null,
            message_key  text not null,
            event        jsonb not null,
            created_at   timestamptz not null default now(),
            published_at timestamptz
        )
    """)
    op.execute(
        "create index if not exists outbox_unpublished on outbox (id) where published_at is null"
    )


def create_idempotency_keys(op: Operations) -> None:
    """The first response to each ``Idempotency-Key`` (services/idempotency.py)."""
    op.execute("""
        create table if not exists idempotency_keys (
            user_id      text not null,
            key          text not null,
            request_hash text not null,
            status_code  int not null,
            response     jsonb not null,
            created_at   timestamptz not null default now(),
            primary key (user_id, key)
        )
    """)
