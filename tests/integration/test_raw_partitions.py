"""Raw tables partitioned by month of ingest: the ingest makes the partitions a row needs, and
``raw.event_ids`` keeps an event_id once across partitions, tables and archived months."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from psycopg.errors import CheckViolation

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import RAW_PARTITION_MONTHS_AHEAD
from ingest.job import run_ingest
from ingest.warehouse import write_batch
from services.outbox import make_producer
from tests.support.raw_events import order_cancelled, order_created, raw_row, stock_updated
from tests.support.signing import stack_bytes
from tests.support.throwaway_stack import throwaway_stack


@pytest.fixture(scope="module")
def stack() -> Iterator[Settings]:
    """A stack of its own: these tests move and drop partitions."""
    with throwaway_stack() as settings:
        yield settings


def partitions(settings: Settings, table: str) -> list[str]:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        rows = conn.execute(
            "select c.relname from pg_inherits as i join pg_class as c on c.oid = i.inhrelid"
            " where i.inhparent = to_regclass(%s) order by 1",
            (f"raw.{table}",),
        ).fetchall()
    return [row[0] for row in rows]


def month(offset: int) -> str:
    """YYYYMM of the month ``offset`` months from this one (UTC)."""
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 + offset
    return f"{index // 12}{index % 12 + 1:02d}"


def test_a_new_warehouse_has_partitions_for_the_months_ahead(stack: Settings) -> None:
    expected = ["order_created_history"] + [
        f"order_created_p{month(n)}" for n in range(1, RAW_PARTITION_MONTHS_AHEAD + 1)
    ]
    assert partitions(stack, "order_created") == expected
    with connections.connect(stack, WAREHOUSE_DATABASE, role=DbRole.INGEST) as conn:
        made = conn.execute("select raw.create_partitions(%s)", (RAW_PARTITION_MONTHS_AHEAD,))
        assert made.fetchall() == []  # all there: nothing to do


def test_rows_past_the_last_partition_boundary_land_in_a_partition_the_ingest_makes(
    stack: Settings,
) -> None:
    # As a warehouse whose partitions ran out: the last one ends at the start of this month.
    with connections.connect(stack, WAREHOUSE_DATABASE, role=DbRole.INGEST) as conn:
        for part in partitions(stack, "stock_updated"):
            conn.execute(f"alter table raw.stock_updated detach partition raw.{part}")
            conn.execute(f"drop table raw.{part}")
        conn.execute("create table raw.stock_updated_old (like raw.stock_updated)")
        conn.execute(
            "alter table raw.stock_updated attach partition raw.stock_updated_old for values"
            " from (minvalue) to (date_trunc('month', now(), 'UTC'))"
        )
        conn.commit()
        with pytest.raises(CheckViolation, match="no partition of relation"):
            write_batch(conn, [raw_row(stock_updated(str(uuid.uuid4()), 1, 5, now()))], [], {})
        conn.rollback()
    event = stock_updated(str(uuid.uuid4()), 1, 5, now())
    producer = make_producer(stack)
    producer.send(
        "stock.updated", key=event["aggregate_id"].encode(), value=stack_bytes(stack, event)
    )
    producer.flush()
    producer.close()
    report = run_ingest(stack)
    assert report.topics["stock.updated"].rows_written == 1
    with connections.connect(stack, WAREHOUSE_DATABASE) as conn:
        row = conn.execute(
            "select tableoid::regclass::text from raw.stock_updated where event_id = %s",
            (event["event_id"],),
        ).fetchone()
    assert row == (f"raw.stock_updated_p{month(0)}",)
    assert partitions(stack, "stock_updated") == ["stock_updated_old"] + [
        f"stock_updated_p{month(n)}" for n in range(RAW_PARTITION_MONTHS_AHEAD + 1)
    ]


def test_an_event_id_stays_unique_across_partitions_and_tables(stack: Settings) -> None:
    event = order_created(str(uuid.uuid4()), "partitions", now())
    with connections.connect(stack, WAREHOUSE_DATABASE) as conn:
        assert write_batch(conn, [raw_row(event)], [], {}).inserted == {"order.created": 1}
        # Ingested a month later than it was: the row and its id record move to the next
        # partition, as if the first copy had arrived then.
        conn.execute(
            "update raw.order_created set ingested_at = ingested_at + interval '1 month'"
            " where event_id = %s",
            (event["event_id"],),
        )
        conn.execute(
            "update raw.event_ids set ingested_at = ingested_at + interval '1 month'"
            " where event_id = %s",
            (event["event_id"],),
        )
        conn.commit()
        where = conn.execute(
            "select tableoid::regclass::text from raw.order_created where event_id = %s",
            (event["event_id"],),
        ).fetchone()
        assert where == (f"raw.order_created_p{month(1)}",)

        again = write_batch(conn, [raw_row(event)], [], {})  # a relay re-send
        assert again.inserted == {"order.created": 0}
        assert again.dead == []

        other = {**event, "payload": {**event["payload"], "customer_name": "Someone else"}}
        changed = write_batch(conn, [raw_row(other)], [], {})
        assert changed.inserted == {"order.created": 0}
        assert [d.reason for d in changed.dead] == [
            f"conflicting duplicate: event_id {event['event_id']} was already ingested from"
            f" order.created[0]@{raw_row_offset(stack, event['event_id'])} with other content"
        ]

        elsewhere = {**order_cancelled(event["aggregate_id"], now()), "event_id": event["event_id"]}
        moved = write_batch(conn, [raw_row(elsewhere)], [], {})
        assert moved.inserted == {"order.cancelled": 0}
        assert [d.reason for d in moved.dead] == [
            f"conflicting duplicate: event_id {event['event_id']} was already ingested into"
            " raw.order_created"
        ]
        conn.commit()
        count = conn.execute(
            "select (select count(*) from raw.order_created where event_id = %(id)s)"
            " + (select count(*) from raw.order_cancelled where event_id = %(id)s)",
            {"id": event["event_id"]},
        ).fetchone()
    assert count == (1,)


def test_a_resent_event_whose_month_was_archived_is_not_ingested_again(stack: Settings) -> None:
    event = order_created(str(uuid.uuid4()), "partitions", now())
    with connections.connect(stack, WAREHOUSE_DATABASE) as conn:
        write_batch(conn, [raw_row(event)], [], {})
        # What an archive leaves: the id record, not the row.
        conn.execute("delete from raw.order_created where event_id = %s", (event["event_id"],))
        conn.commit()
        again = write_batch(conn, [raw_row(event)], [], {})
        conn.commit()
        assert again.inserted == {"order.created": 0}
        assert again.dead == []
        left = conn.execute(
            "select count(*) from raw.order_created where event_id = %s", (event["event_id"],)
        ).fetchone()
    assert left == (0,)


def raw_row_offset(settings: Settings, event_id: str) -> int:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        row = conn.execute(
            "select kafka_offset from raw.order_created where event_id = %s", (event_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def now() -> datetime:
    return datetime.now(UTC)
