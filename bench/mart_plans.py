"""Where an incremental run's cost grows with history: one mart's plan at 100,000 and 1,000,000.

The same two warehouses as ``bench.dbt_incremental`` (built once, then 10,000 new events in
one transaction). The mart's select, compiled for that incremental run, is explained with
ANALYZE and BUFFERS: its time and the pages it touched, found in shared buffers (hit) or
read in (read), in total and for the scan nodes that read the most. A run that costs what
is new touches about as many pages at both sizes; one that reads old rows back touches
more pages that are not cached.

    .venv/bin/python -m bench.mart_plans [mart] [--plan]   # default: orders_with_invoices

``--plan`` also prints each whole plan, as text.
"""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stdout
from typing import Any

from bench.dbt_incremental import NEW_EVENTS, Size
from database import connections
from database.names import WAREHOUSE_DATABASE
from tests.support.throwaway_stack import throwaway_stack

SHOWN_NODES = 6


def scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of the plan that reads a relation, depth first."""
    found = [plan] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        found.extend(scans(child))
    return found


def pages(node: dict[str, Any]) -> str:
    return f"hit {node['Shared Hit Blocks']:>7,} read {node['Shared Read Blocks']:>7,}"


def explain(size: Size, mart: str, *, whole: bool) -> None:
    size.store.add(NEW_EVENTS)
    with redirect_stdout(io.StringIO()):  # dbt compile prints the SQL
        node = size.dbt("compile", "--select", mart).results[0].node
    compiled = node.compiled_code
    with connections.connect(size.settings, WAREHOUSE_DATABASE) as conn:
        for hook in node.config.pre_hook:  # as dbt runs them: in the model's transaction
            conn.execute(hook.sql)
        row = conn.execute(f"explain (analyze, buffers, format json) {compiled}").fetchone()
        if whole:
            text = conn.execute(f"explain (analyze, buffers) {compiled}").fetchall()
            print("\n".join(line for (line,) in text))
        conn.rollback()
    if row is None:
        raise SystemExit(f"no plan for {mart}")
    plan = row[0][0]
    top = plan["Plan"]
    print(
        f"  {size.existing:>9,} existing: {mart} select {plan['Execution Time']:.0f} ms,"
        f" {pages(top)} pages"
    )
    by_cost = sorted(scans(top), key=lambda n: -(n["Shared Hit Blocks"] + n["Shared Read Blocks"]))
    for node in by_cost[:SHOWN_NODES]:
        index = f" using {node['Index Name']}" if "Index Name" in node else ""
        print(
            f"    {node['Node Type']} on {node['Relation Name']}{index}: rows"
            f" {node['Actual Rows'] * node['Actual Loops']:>7,.0f}, {pages(node)},"
            f" {node['Actual Total Time'] * node['Actual Loops']:.0f} ms"
        )
    sys.stdout.flush()


def main() -> None:
    args = [arg for arg in sys.argv[1:] if arg != "--plan"]
    mart = args[0] if args else "orders_with_invoices"
    with throwaway_stack(kafka=False) as small_pg, throwaway_stack(kafka=False) as large_pg:
        print(f"{mart}: plan of an incremental run after +{NEW_EVENTS:,} events", flush=True)
        for size in (Size(small_pg, 100_000), Size(large_pg, 1_000_000)):
            explain(size, mart, whole="--plan" in sys.argv)


if __name__ == "__main__":
    main()
