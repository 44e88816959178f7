"""Months of raw events already folded into the marts, out to Parquet and out of the warehouse.

``archive`` exports each raw partition that ends on or before a date (one Parquet file and a
manifest per partition), reads the file back to check it, then detaches and drops the
partition. A partition with an event the marts have not folded yet is refused: the bound is
the ``dbt`` check window (``marts.checked_windows``), below which a fully green build of the
whole project has folded and tested every row (docs/adr/check-windows.md). ``raw.event_ids``
keeps the archived ids, so a re-sent archived event is still known (docs/adr/raw-partitions.md).

``restore`` puts archived partitions back, attached as they were, for a rebuild of the marts
from the whole history; ``release`` drops them again once the rebuild is done.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.locks import RAW_ARCHIVE_LOCK
from database.names import WAREHOUSE_DATABASE
from database.warehouse import RAW_SCHEMA

BATCH_ROWS = 50_000
# How PostgreSQL types of the raw tables are kept in Parquet: ids and JSON as text (jsonb's
# text is canonical, so it reads back as the same value), times in UTC microseconds.
ARROW_TYPES: dict[str, pa.DataType] = {
    "uuid": pa.string(),
    "text": pa.string(),
    "jsonb": pa.string(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
}
_BOUNDS = (
    "select parent.relname, part.relname,"
    " substring(pg_get_expr(part.relpartbound, part.oid) from $$FROM \\('([^']+)'\\)$$)"
    "::timestamptz,"
    " substring(pg_get_expr(part.relpartbound, part.oid) from $$TO \\('([^']+)'\\)$$)"
    "::timestamptz"
    " from pg_inherits as i join pg_class as parent on parent.oid = i.inhparent"
    " join pg_class as part on part.oid = i.inhrelid"
    " join pg_namespace as n on n.oid = parent.relnamespace"
    " where n.nspname = %s and parent.relkind = 'p' order by 1, 2"
)


class ArchiveRefused(RuntimeError):
    """The archive was asked for something it must not do; nothing was exported or dropped."""


@dataclass(frozen=True)
class Manifest:
    """What one archived partition held, beside its Parquet file (``<partition>.json``)."""

    table: str  # the raw table, e.g. order_created
    partition: str  # e.g. order_created_p202611
    lower: str | None  # ISO time; None: from the beginning
    upper: str
    rows: int
    rows_sha256: str  # of the rows in file order, as read back (``_rows_digest``)
    file_sha256: str
    archived_at: str


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    lower: datetime | None  # None: from the beginning
    upper: datetime | None  # None: no end


def archive_dir(settings: Settings) -> Path:
    return settings.raw_archive_dir or settings.state_dir / "archive" / RAW_SCHEMA


def partitions(conn: psycopg.Connection) -> list[Partition]:
    rows = conn.execute(_BOUNDS, (RAW_SCHEMA,)).fetchall()
    return [Partition(t, n, lo, up) for t, n, lo, up in rows]


def archive(settings: Settings, before: date, directory: Path | None = None) -> list[Manifest]:
    """Export, verify, detach and drop every raw partition that ends on or before ``before``."""
    directory = directory or archive_dir(settings)
    cut = datetime.combine(before, time(), UTC)
    with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.INGEST) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (RAW_ARCHIVE_LOCK,))
        this_month = conn.execute("select date_trunc('month', now(), 'UTC')").fetchone()
        assert this_month is not None
        if cut > this_month[0]:
            raise ArchiveRefused(
                f"--before {before} is past the start of this month ({this_month[0]:%Y-%m-%d}):"
                " only months that are over can be archived"
            )
        due = [p for p in partitions(conn) if p.upper is not None and p.upper <= cut]
        refuse_unfolded(conn, due)
        conn.commit()
        done = []
        for part in due:
            conn.execute("select pg_advisory_xact_lock(%s)", (RAW_ARCHIVE_LOCK,))
            manifest = export(conn, part, directory)
            # Detached and dropped in the transaction that read it: no row arrives meanwhile.
            conn.execute("select raw.drop_partition(%s)", (part.name,))
            conn.commit()
            done.append(manifest)
        return done


def archive_past_retention(settings: Settings) -> list[Manifest]:
    """Archive the months before the last ``settings.raw_keep_months`` whole ones (UTC)."""
    today = datetime.now(UTC).date()
    index = today.year * 12 + today.month - 1 - settings.raw_keep_months
    return archive(settings, date(index // 12, index % 12 + 1, 1))


def refuse_unfolded(conn: psycopg.Connection, due: list[Partition]) -> None:
    """Raise ArchiveRefused naming every partition with a row the marts have not folded."""
    row = conn.execute(
        "select checked_below from marts.checked_windows where check_name = 'dbt'"
    ).fetchone()
    folded_below = int(row[0]) if row else 0
    unfolded = []
    for part in due:
        newest = conn.execute(
            sql.SQL("select max(ingest_txid) from {}").format(sql.Identifier(RAW_SCHEMA, part.name))
        ).fetchone()
        if newest is not None and newest[0] is not None and newest[0] >= folded_below:
            unfolded.append(f"raw.{part.name} (newest ingest transaction {newest[0]})")
    if unfolded:
        raise ArchiveRefused(
            "not folded into the marts yet: " + ", ".join(unfolded) + "; the last fully green"
            f" dbt build folded every row below ingest transaction {folded_below}. Run the"
            " pipeline until it passes, then archive again. Nothing was archived."
        )


def columns(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    """The raw table's columns and their types, in table order."""
    rows = conn.execute(
        "select attname, format_type(atttypid, atttypmod) from pg_attribute"
        " where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped order by attnum",
        (f"{RAW_SCHEMA}.{table}",),
    ).fetchall()
    return [(str(name), str(kind)) for name, kind in rows]


def arrow_schema(cols: list[tuple[str, str]]) -> pa.Schema:
    return pa.schema([pa.field(name, ARROW_TYPES[kind]) for name, kind in cols])


def export(conn: psycopg.Connection, part: Partition, directory: Path) -> Manifest:
    """Write the partition to Parquet and check it by reading it back; return its manifest."""
    cols = columns(conn, part.table)
    schema = arrow_schema(cols)
    target = directory / part.table / f"{part.name}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    select = sql.SQL("select {} from {}").format(
        sql.SQL(", ").join(
            sql.SQL("{}::text").format(sql.Identifier(n))
            if kind in ("uuid", "jsonb")
            else sql.Identifier(n)
            for n, kind in cols
        ),
        sql.Identifier(RAW_SCHEMA, part.name),
    )
    counted = conn.execute(
        sql.SQL("select count(*) from {}").format(sql.Identifier(RAW_SCHEMA, part.name))
    ).fetchone()
    assert counted is not None
    written = hashlib.sha256()
    with (
        conn.cursor(name=f"archive_{part.name}") as cur,
        pq.ParquetWriter(partial, schema, compression="zstd") as writer,
    ):
        cur.execute(select)
        while rows := cur.fetchmany(BATCH_ROWS):
            batch = pa.RecordBatch.from_arrays(
                [
                    pa.array(values, type=f.type)
                    for values, f in zip(zip(*rows, strict=True), schema, strict=True)
                ],
                schema=schema,
            )
            _rows_digest(written, batch)
            writer.write_batch(batch)
    read = hashlib.sha256()
    parquet = pq.ParquetFile(partial)
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
        _rows_digest(read, batch)
    if parquet.metadata.num_rows != counted[0] or read.hexdigest() != written.hexdigest():
        partial.unlink()
        raise ArchiveRefused(
            f"raw.{part.name}: the Parquet file read back {parquet.metadata.num_rows} rows"
            f" against {counted[0]} in the table, or other rows: nothing was dropped"
        )
    partial.replace(target)
    manifest = Manifest(
        table=part.table,
        partition=part.name,
        lower=part.lower.isoformat() if part.lower else None,
        upper=part.upper.isoformat() if part.upper else "",
        rows=int(counted[0]),
        rows_sha256=read.hexdigest(),
        file_sha256=hashlib.sha256(target.read_bytes()).hexdigest(),
        archived_at=datetime.now(UTC).isoformat(),
    )
    target.with_suffix(".json").write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


def _rows_digest(digest: Any, batch: pa.RecordBatch) -> None:
    """Add the batch's rows, in order, to ``digest`` (the same however the rows are batched)."""
    for row in batch.to_pylist():
        digest.update(orjson.dumps(row))
        digest.update(b"\n")


def manifests(directory: Path) -> Iterator[Manifest]:
    for path in sorted(directory.glob("*/*.json")):
        yield Manifest(**json.loads(path.read_text()))


def restore(settings: Settings, directory: Path | None = None) -> list[str]:
    """Attach every archived partition that is not in the warehouse again, from its file."""
    directory = directory or archive_dir(settings)
    restored = []
    with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.INGEST) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (RAW_ARCHIVE_LOCK,))
        present = {p.name for p in partitions(conn)}
        for manifest in manifests(directory):
            if manifest.partition in present:
                continue
            _restore_one(conn, manifest, directory)
            restored.append(manifest.partition)
        conn.commit()
    return restored


def _restore_one(conn: psycopg.Connection, manifest: Manifest, directory: Path) -> None:
    path = directory / manifest.table / f"{manifest.partition}.parquet"
    if hashlib.sha256(path.read_bytes()).hexdigest() != manifest.file_sha256:
        raise ArchiveRefused(f"{path}: not the file that was archived (its sha256 differs)")
    table = sql.Identifier(RAW_SCHEMA, manifest.partition)
    conn.execute("select raw.create_partition_table(%s, %s)", (manifest.table, manifest.partition))
    parquet = pq.ParquetFile(path)
    names = sql.SQL(", ").join(map(sql.Identifier, parquet.schema_arrow.names))
    with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin").format(table, names)) as copy:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                copy.write_row(row)
    conn.execute(
        "select raw.attach_partition(%s, %s, %s, %s)",
        (manifest.table, manifest.partition, manifest.lower, manifest.upper),
    )


def release(settings: Settings, directory: Path | None = None) -> list[str]:
    """Detach and drop the partitions that are in the archive (after a rebuild restored them)."""
    directory = directory or archive_dir(settings)
    released = []
    with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.INGEST) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (RAW_ARCHIVE_LOCK,))
        present = {p.name: p for p in partitions(conn)}
        for manifest in manifests(directory):
            if manifest.partition not in present:
                continue
            conn.execute("select raw.drop_partition(%s)", (manifest.partition,))
            released.append(manifest.partition)
        conn.commit()
    return released
