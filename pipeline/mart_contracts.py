"""A mart whose contract changed is rebuilt whole by the pipeline, before its incremental build.

The marts are incremental with enforced contracts and ``on_schema_change: fail``: an
incremental run never folds new events into rows that lack a new column. When an upgrade
changes a mart's declared columns (names or types), the table in the warehouse no longer
matches the manifest; the pipeline sees that here and runs those marts with
``--full-refresh`` (folded again from the whole raw log), and the next publication copies
them whole (pipeline/publish.py). No one has to run a full refresh by hand.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import psycopg

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import MARTS_SCHEMA
from pipeline.dbt import PIPELINE_EXCLUDE, run_dbt

log = logging.getLogger(__name__)

Columns = tuple[tuple[str, str], ...]  # (name, type) in declared order


def declared_marts(manifest: dict[str, Any]) -> dict[str, Columns]:
    """The incremental marts with an enforced contract, and the columns each one declares."""
    marts: dict[str, Columns] = {}
    for node in manifest["nodes"].values():
        config = node.get("config", {})
        if (
            node.get("resource_type") == "model"
            and node.get("schema") == MARTS_SCHEMA
            and config.get("materialized") == "incremental"
            and config.get("contract", {}).get("enforced")
        ):
            columns = node["columns"].items()
            marts[node["alias"]] = tuple(
                (name, str(c.get("data_type") or "")) for name, c in columns
            )
    return marts


def declared_partitioned(manifest: dict[str, Any]) -> set[str]:
    """The marts whose YAML asks for monthly partitions (dbt_project/macros/partitions.sql)."""
    return {
        node["alias"]
        for node in manifest["nodes"].values()
        if node.get("resource_type") == "model"
        and node.get("schema") == MARTS_SCHEMA
        and (node.get("config", {}).get("meta") or {}).get("partition_by_month")
    }


def built_unpartitioned(conn: psycopg.Connection, names: set[str]) -> set[str]:
    """Those of ``names`` the warehouse holds as plain tables (built before they were
    partitioned): an incremental run keeps a plain table plain, a full refresh partitions it."""
    rows = conn.execute(
        "select c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relname = any(%s) and c.relkind <> 'p'",
        (MARTS_SCHEMA, sorted(names)),
    ).fetchall()
    return {str(name) for (name,) in rows}


def reshaped(declared: dict[str, Columns], built: dict[str, Columns]) -> list[str]:
    """Marts that exist in the warehouse with other columns than they declare now (a mart
    not built yet is not reshaped: its first build is a full one anyway)."""
    return sorted(name for name, cols in declared.items() if name in built and built[name] != cols)


def in_postgres_spelling(
    conn: psycopg.Connection, declared: dict[str, Columns]
) -> dict[str, Columns]:
    """The declared types as PostgreSQL names them (``timestamptz``: ``timestamp with time
    zone``); a type it does not know stays as written, so it never matches a built one."""
    types = sorted({type_name for columns in declared.values() for _, type_name in columns})
    rows = conn.execute(
        "select t, format_type(to_regtype(t), null) from unnest(%s::text[]) as t", (types,)
    ).fetchall()
    spelling = {written: name for written, name in rows if name is not None}
    return {
        mart: tuple((column, spelling.get(t, t)) for column, t in columns)
        for mart, columns in declared.items()
    }


def built_marts(conn: psycopg.Connection, names: list[str]) -> dict[str, Columns]:
    """The columns of each named mart as the warehouse holds it, in their order."""
    built: dict[str, list[tuple[str, str]]] = {}
    rows = conn.execute(
        "select c.relname, a.attname, format_type(a.atttypid, null)"
        " from pg_attribute as a join pg_class as c on c.oid = a.attrelid"
        " join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relname = any(%s) and a.attnum > 0 and not a.attisdropped"
        " order by c.relname, a.attnum",
        (MARTS_SCHEMA, names),
    ).fetchall()
    for table, column, type_name in rows:
        built.setdefault(table, []).append((column, type_name))
    return {table: tuple(columns) for table, columns in built.items()}


def rebuild_reshaped_marts(settings: Settings, manifest_path: Path | None = None) -> list[str]:
    """Rebuild (``dbt build --full-refresh``) every mart whose contract or partitioning
    changed; return them."""
    from pipeline.tasks.dbt import MANIFEST_PATH, build_manifest

    path = manifest_path or MANIFEST_PATH
    if not path.exists():
        path = build_manifest(settings)
    manifest = json.loads(path.read_text())
    declared = declared_marts(manifest)
    with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.DBT) as conn:
        names = reshaped(in_postgres_spelling(conn, declared), built_marts(conn, list(declared)))
        unpartitioned = built_unpartitioned(conn, declared_partitioned(manifest))
        names = sorted(set(names) | unpartitioned)
    if names:
        log.warning(
            "marts whose contract or partitioning changed, rebuilt from the raw log: %s", names
        )
        run_dbt(
            settings, "build", "--full-refresh", "--select", *names,
            "--exclude", *PIPELINE_EXCLUDE, quiet=True,
        )  # fmt: skip
    return names
