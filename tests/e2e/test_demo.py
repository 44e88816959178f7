"""`make demo` is what a new user runs first: run it as they would and read what it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.throwaway_stack import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CQRSW = Path(sys.executable).with_name("cqrsw")


def _table_rows(output: str, title: str) -> list[list[str]]:
    """The cells of the rich table printed under ``title``."""
    block = output.split(title, 1)[1]
    rows = []
    for line in block.splitlines()[4:]:
        if not line.startswith("│"):
            break
        rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


def test_make_demo_prints_the_orders_with_the_invoice_that_arrived_first(tmp_path: Path) -> None:
    ports = {
        name: str(free_port())
        for name in ("PG", "KAFKA", "ORDERS", "INVOICES", "STOCK", "READ_API", "AIRFLOW")
    }
    env = {
        **os.environ,
        "CQRSW_STATE_DIR": str(tmp_path / "state"),
        **{f"CQRSW_{name}_PORT": port for name, port in ports.items()},
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [str(CQRSW), "demo"], env=env, capture_output=True, text=True, timeout=900, check=False
    )
    output = done.stdout
    assert done.returncode == 0, output[-3000:] + done.stderr[-3000:]
    assert "demo finished" in output

    alice = _table_rows(output, "GET /orders-with-invoices?userId=alice")
    bob = _table_rows(output, "GET /orders-with-invoices?userId=bob")
    # orderId, customerName, createdAt, status, invoiceUrl, note
    assert len(alice) == 3 and {row[1] for row in alice} == {"Alice Anderson"}
    assert len(bob) == 2 and {row[1] for row in bob} == {"Bob Brown"}
    first = [row for row in alice if row[5] == "invoice arrived first"]
    assert len(first) == 1
    assert first[0][3] == "invoiced"
    assert first[0][4].startswith("https://invoices.example.com/")
    assert "https://billing.example.com/inv/alice-2.pdf" in [row[4] for row in alice]
    assert sorted(row[3] for row in alice) == ["created", "invoiced", "invoiced"]
    assert sorted(row[3] for row in bob) == ["cancelled", "invoiced"]
    assert re.search(r"GET /products/sku-1/stock: stock 15, version 2", output)
