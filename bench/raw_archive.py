"""Raw archive: a past month of stock events to Parquet and back, against a plain COPY out.

A throwaway PostgreSQL gets ROWS stock.updated rows (generated in SQL) in the partition of two
months ago, marked as folded. Three times each: ``COPY (select * from <partition>) TO STDOUT``
read by the client (the floor of any export), and ``raw_archive.archive`` (Parquet, read
back and compared, then detach and drop) followed by ``raw_archive.restore`` (from the file)
and ``release``. Prints rows/s, file bytes per event, and last the ratio judged: median
archive time over median COPY-out time.

    flock /tmp/cqrsw-bench.lock .venv/bin/python -m bench.raw_archive
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline import raw_archive
from tests.support.throwaway_stack import throwaway_stack

ROWS = int(os.environ.get("BENCH_ROWS", "200000"))
RUNS = 3


def month_start(offset: int) -> date:
    today = datetime.now(UTC).date()
    index = today.year * 12 + today.month - 1 + offset
    return date(index // 12, index % 12 + 1, 1)


def seed(settings: Settings) -> str:
    """ROWS stock events ingested two months ago, all folded; return their partition."""
    old = f"stock_updated_p{month_start(-2):%Y%m}"
    with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.INGEST) as conn:
        for part in raw_archive.partitions(conn):
            if part.table == "stock_updated":
                conn.execute("select raw.drop_partition(%s)", (part.name,))
        conn.execute("create table raw.stock_updated_history (like raw.stock_updated)")
        conn.execute(
            "alter table raw.stock_updated attach partition raw.stock_updated_history"
            f" for values from (minvalue) to ('{month_start(-2)}T00:00Z')"
        )
        conn.execute("select raw.create_partitions(2)")
        conn.execute(
            """
            insert into raw.stock_updated (event_id, event_type, schema_version, aggregate_id,
                aggregate_version, occurred_at, producer, request_id, trace, payload,
                kafka_topic, kafka_partition, kafka_offset, ingest_batch_id, ingested_at)
            select md5('s' || k)::uuid, 'stock.updated', 2, md5('p' || k %% 1000)::uuid::text,
                k / 1000 + 1, %(at)s::timestamptz + k * interval '1 ms', 'stock', md5('r' || k),
                jsonb_build_object('traceparent', '00-' || md5('t' || k) || '-'
                    || left(md5('u' || k), 16) || '-01'),
                jsonb_build_object('product_id', md5('p' || k %% 1000)::uuid, 'operation',
                    'increase', 'stock_amount', k %% 50 + 1),
                'stock.updated', k %% 4, k / 4, k / 5000 + 1, %(at)s::timestamptz
            from generate_series(1, %(rows)s) as k
            """,
            {"at": f"{month_start(-2)}T12:00Z", "rows": ROWS},
        )
        conn.commit()
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        conn.execute(
            "insert into marts.checked_windows (check_name, checked_below)"
            " values ('dbt', pg_current_xact_id()::text::bigint + 1)"
            " on conflict (check_name) do update set checked_below = excluded.checked_below"
        )
        conn.commit()
    return old


def copy_out(settings: Settings, partition: str) -> float:
    started = time.perf_counter()
    query = f"copy (select * from raw.{partition}) to stdout"
    with (
        connections.connect(settings, WAREHOUSE_DATABASE) as conn,
        conn.cursor() as cur,
        cur.copy(query) as copy,
    ):
        for _ in copy:
            pass
    return time.perf_counter() - started


def main() -> None:
    print(f"load average at start: {os.getloadavg()}")
    copies, archives, restores = [], [], []
    with throwaway_stack(kafka=False) as settings, tempfile.TemporaryDirectory() as folder:
        partition = seed(settings)
        before = month_start(-1)
        size = 0
        for _ in range(RUNS):
            copies.append(copy_out(settings, partition))
            started = time.perf_counter()
            done = raw_archive.archive(settings, before, Path(folder))
            archives.append(time.perf_counter() - started)
            assert sum(m.rows for m in done) == ROWS, done
            size = (Path(folder) / "stock_updated" / f"{partition}.parquet").stat().st_size
            started = time.perf_counter()
            raw_archive.restore(settings, Path(folder))
            restores.append(time.perf_counter() - started)
            for path in Path(folder).glob("*/*"):
                path.unlink()
    for name, times in (("copy out", copies), ("archive", archives), ("restore", restores)):
        median = statistics.median(times)
        print(
            f"{name:>8}: median {median:.2f} s ({ROWS / median:,.0f} rows/s),"
            f" spread {min(times):.2f}-{max(times):.2f} s over {RUNS}"
        )
    print(f"parquet: {size / ROWS:.0f} bytes per event ({size / 1e6:.1f} MB for {ROWS:,})")
    print(f"load average at end: {os.getloadavg()}")
    ratio = statistics.median(archives) / statistics.median(copies)
    print(f"ratio archive / copy out: {ratio:.2f}")


if __name__ == "__main__":
    main()
