"""Schema changes live in the migrations (and dbt), lock keys in one module."""

from __future__ import annotations

import re
from pathlib import Path

import database.locks as locks
from database.locks import lock_key

ROOT = Path(__file__).resolve().parents[2]
# The code that ships (tests and benchmarks make scratch tables of their own).
PACKAGES = (
    "config", "contracts", "cqrsw", "dags", "database", "ingest", "journeys", "loadtest",
    "pipeline", "quality", "services", "stack",
)  # fmt: skip
MIGRATIONS = ROOT / "database" / "migrations"
DDL = re.compile(
    r"\b(create\s+(unique\s+)?(table|index|schema|sequence|trigger|view)|alter\s+table"
    r"|drop\s+(table|index|schema|trigger))\b",
    re.IGNORECASE,
)
# Publishing mirrors each mart into `serving` in the shape dbt gave it (pipeline/publish.py):
# those tables follow dbt's contracts, not a migration (docs/adr/migrations.md).
MIRRORS_DBT = {ROOT / "pipeline" / "publish.py"}


def shipped_files() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for pattern in ("*.py", "*.sql")
        for path in (ROOT / package).rglob(pattern)
        if MIGRATIONS not in path.parents
    )


def test_no_ddl_outside_the_migrations_and_dbt() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in shipped_files()
        if path not in MIRRORS_DBT
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if DDL.search(line)
    ]
    assert found == []


def test_the_rule_sees_ddl() -> None:
    assert DDL.search('conn.execute("create table if not exists raw.x (id int)")')
    assert DDL.search("ALTER TABLE raw.ingest_offsets add column y text")
    assert not DDL.search("a table is created by the migrations")
    assert shipped_files(), "the scan found no files: the package list is wrong"
    assert any(MIGRATIONS in p.parents for p in MIGRATIONS.rglob("*.py"))


def test_dbt_makes_no_tables_of_its_own_in_hooks() -> None:
    hooks = (ROOT / "dbt_project" / "macros" / "watermark.sql").read_text()
    assert not DDL.search(hooks)


def test_advisory_lock_keys_are_declared_once_and_distinct() -> None:
    keys = {name: value for name, value in vars(locks).items() if name.endswith("_LOCK")}
    assert len(keys) >= 5
    assert len(set(keys.values())) == len(keys)
    literal = re.compile(r"pg_(try_)?advisory_(xact_)?lock\((\d|hashtext)")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in shipped_files()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if literal.search(line)
    ]
    found += [
        str(path.relative_to(ROOT))
        for path in (ROOT / "dbt_project").rglob("*.sql")
        if "target" not in path.parts and "pg_advisory" in path.read_text()
    ]
    assert found == []


def test_a_lock_key_reads_as_its_name() -> None:
    assert lock_key("cqrsrole") == 0x63717273_726F6C65
    assert lock_key("cqrsmigr").to_bytes(8, "big") == b"cqrsmigr"


def test_every_revision_says_it_is_forward_only() -> None:
    # docs/adr/migrations.md: going back is restoring a backup, never a half-written reverse.
    revisions = sorted(MIGRATIONS.glob("*/v*.py"))
    assert revisions
    refusing = 'def downgrade() -> None:\n    raise NotImplementedError("forward only'
    assert [p.name for p in revisions if refusing not in p.read_text()] == []
