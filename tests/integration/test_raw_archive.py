"""``cqrsw raw archive``: months folded into the marts go to Parquet and leave the warehouse;
a month not folded yet is refused; a rebuild from the archive plus raw gives the same views."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import MARTS, RAW_PARTITION_MONTHS_AHEAD
from pipeline import raw_archive
from pipeline.dbt import PIPELINE_EXCLUDE, run_dbt
from pipeline.publish import publish_views
from tests.support.raw_events import (
    Event,
    ingest_events,
    invoice_created,
    order_cancelled,
    order_created,
    stock_updated,
)
from tests.support.throwaway_stack import throwaway_stack

TABLES = ("invoice_created", "order_cancelled", "order_created", "stock_updated")
Rows = dict[str, list[tuple[object, ...]]]


def month_start(offset: int) -> date:
    today = datetime.now(UTC).date()
    index = today.year * 12 + today.month - 1 + offset
    return date(index // 12, index % 12 + 1, 1)


@pytest.fixture(scope="module")
def stack() -> Iterator[Settings]:
    """A warehouse whose raw partitions begin two months ago, so that a month is over."""
    with throwaway_stack(kafka=False) as settings:
        with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.INGEST) as conn:
            for table in TABLES:
                for part in raw_archive.partitions(conn):
                    if part.table == table:
                        conn.execute(f"alter table raw.{table} detach partition raw.{part.name}")
                        conn.execute(f"drop table raw.{part.name}")
                conn.execute(f"create table raw.{table}_history (like raw.{table})")
                conn.execute(
                    f"alter table raw.{table} attach partition raw.{table}_history"
                    f" for values from (minvalue) to ('{month_start(-2)}T00:00Z')"
                )
            conn.execute("select raw.create_partitions(%s)", (RAW_PARTITION_MONTHS_AHEAD,))
            conn.commit()
        yield settings


def views(settings: Settings, schema: str) -> Rows:
    """Every row of every mart (or its published copy), without the watermark a build renews."""
    found = {}
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        for mart in MARTS:
            cur = conn.execute(f"select * from {schema}.{mart.name} order by {', '.join(mart.key)}")
            names = [column.name for column in cur.description or []]
            keep = [i for i, name in enumerate(names) if name != "changed_at_watermark"]
            found[mart.name] = [tuple(row[i] for i in keep) for row in cur.fetchall()]
    return found


def ingested_months_ago(settings: Settings, events: list[Event], months: int) -> None:
    """Ingest the events, then date their ingest ``months`` months back (their partition)."""
    ingest_events(settings, events)
    ids = [e["event_id"] for e in events]
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        for table in (*TABLES, "event_ids"):
            conn.execute(
                f"update raw.{table} set ingested_at = ingested_at - %s * interval '1 month'"
                " where event_id = any(%s::uuid[])",
                (months, ids),
            )


def raw_count(settings: Settings) -> int:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        union = " union all ".join(f"select event_id from raw.{t}" for t in TABLES)
        row = conn.execute(f"select count(*) from ({union}) as raw_rows").fetchone()
    assert row is not None
    return int(row[0])


def test_archive_refuses_unfolded_months_then_a_rebuild_from_it_gives_the_same_views(
    stack: Settings, tmp_path: Path
) -> None:
    at = datetime.now(UTC) - timedelta(days=70)
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    p, q = (str(uuid.uuid4()) for _ in range(2))
    old = [
        order_created(a, "archive", at),
        order_created(b, "archive", at),
        invoice_created(a, at + timedelta(minutes=1)),
        stock_updated(p, 1, 10, at),
        stock_updated(p, 2, -3, at + timedelta(days=1)),
        stock_updated(q, 1, 5, at),
    ]
    new = [
        order_cancelled(b, datetime.now(UTC)),
        order_created(c, "archive", datetime.now(UTC)),
        stock_updated(p, 3, 4, datetime.now(UTC)),
    ]
    ingested_months_ago(stack, old, 2)
    ingest_events(stack, new)

    # Not folded yet: refused, nothing exported or dropped.
    with pytest.raises(raw_archive.ArchiveRefused, match="not folded into the marts yet"):
        raw_archive.archive(stack, month_start(-1), tmp_path)
    assert raw_count(stack) == len(old) + len(new)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(raw_archive.ArchiveRefused, match="only months that are over"):
        raw_archive.archive(stack, month_start(1), tmp_path)

    run_dbt(stack, "build", "--exclude", *PIPELINE_EXCLUDE)  # folds and checks every row
    publish_views(stack)
    marts, serving = views(stack, "marts"), views(stack, "serving")
    assert marts["products"] and marts["orders_with_invoices"]

    done = raw_archive.archive(stack, month_start(-1), tmp_path)
    old_month = f"p{month_start(-2):%Y%m}"
    assert sorted(m.partition for m in done) == sorted(
        [f"{t}_history" for t in TABLES] + [f"{t}_{old_month}" for t in TABLES]
    )
    assert sum(m.rows for m in done) == len(old)
    assert raw_count(stack) == len(new)  # the archived months left the warehouse
    with connections.connect(stack, WAREHOUSE_DATABASE) as conn:
        left = {p.name for p in raw_archive.partitions(conn)}
    assert not left & {m.partition for m in done}
    # An analyst's tools read the files: the event ids of the old month, as they were.
    archived = pq.read_table(tmp_path / "stock_updated" / f"stock_updated_{old_month}.parquet")
    assert sorted(archived.column("event_id").to_pylist()) == sorted(
        e["event_id"] for e in old if e["event_type"] == "stock.updated"
    )

    # A full refresh from raw alone lost the archived months: the control.
    run_dbt(stack, "run", "--full-refresh")
    assert views(stack, "marts") != marts

    # The rebuild as rebuild_views runs it: restore, full refresh with its tests, publish,
    # release.
    restored = raw_archive.restore(stack, tmp_path)
    assert sorted(restored) == sorted(m.partition for m in done)
    assert raw_count(stack) == len(old) + len(new)
    try:
        run_dbt(stack, "build", "--full-refresh", "--exclude", *PIPELINE_EXCLUDE)
        publish_views(stack)
    finally:
        released = raw_archive.release(stack, tmp_path)
    assert sorted(released) == sorted(restored)
    assert raw_count(stack) == len(new)
    assert views(stack, "marts") == marts
    assert views(stack, "serving") == serving


def test_a_changed_archive_file_is_not_restored(stack: Settings, tmp_path: Path) -> None:
    manifest: dict[str, Any] = {
        "table": "order_created",
        "partition": "order_created_p190001",
        "lower": "1900-01-01T00:00:00+00:00",
        "upper": "1900-02-01T00:00:00+00:00",
        "rows": 0,
        "rows_sha256": "",
        "file_sha256": "0" * 64,
        "archived_at": "1900-02-02T00:00:00+00:00",
    }
    folder = tmp_path / "order_created"
    folder.mkdir()
    (folder / "order_created_p190001.parquet").write_bytes(b"not the archived file")
    (folder / "order_created_p190001.json").write_text(json.dumps(manifest))
    with pytest.raises(raw_archive.ArchiveRefused, match="not the file that was archived"):
        raw_archive.restore(stack, tmp_path)
