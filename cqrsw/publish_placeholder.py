"""PLACEHOLDER until issue 5 lands ``cqrsw.publish.publish_views``: copy the marts to ``serving``.

Thin on purpose and to be deleted at that merge: it copies every existing mart into schema
``serving`` in one transaction, so the DAG's write-audit-publish step can be exercised.
"""

from __future__ import annotations

from psycopg import sql

from services import db
from services.settings import WAREHOUSE_DATABASE, Settings

MARTS = ("orders_with_invoices", "products", "product_stock_daily")


def publish_marts(settings: Settings) -> dict[str, int]:
    counts: dict[str, int] = {}
    with db.connect(settings, WAREHOUSE_DATABASE) as conn:
        conn.execute("create schema if not exists serving")
        for mart in MARTS:
            if conn.execute("select to_regclass(%s)", (f"marts.{mart}",)).fetchone() == (None,):
                continue
            view = sql.Identifier("serving", mart)
            conn.execute(sql.SQL("drop table if exists {}").format(view))
            conn.execute(
                sql.SQL("create table {} as table {}").format(view, sql.Identifier("marts", mart))
            )
            row = conn.execute(sql.SQL("select count(*) from {}").format(view)).fetchone()
            counts[mart] = int(row[0]) if row else 0
    return counts
