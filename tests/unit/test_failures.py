"""Only an unreachable broker or database is worth a retry (no IO)."""

from __future__ import annotations

import psycopg
import pytest
from kafka.errors import KafkaTimeoutError

from ingest.batches import DeadlineExceeded
from pipeline.dbt import DbtFailed
from pipeline.failures import is_transient
from quality.gate import DataQualityFailed


def caused_by(cause: BaseException, message: str = "task failed") -> RuntimeError:
    try:
        raise RuntimeError(message) from cause
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection is bad"),
        KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:19092']"),
        ConnectionRefusedError(111, "Connection refused"),
        caused_by(psycopg.OperationalError("server closed the connection unexpectedly")),
        # Cosmos reports dbt's lost connection as text only
        RuntimeError(
            "dbt invocation did not complete with unhandled error: Database Error\n"
            '  connection to server at "127.0.0.1", port 55432 failed: Connection refused'
        ),
        DeadlineExceeded("ingest deadline reached with order.created[0] not read to the end"),
    ],
    ids=["psycopg", "kafka", "socket", "chained", "dbt-text", "ingest-deadline"],
)
def test_unreachable_engines_are_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        DataQualityFailed("raw.order_created: occurred_at is not in the future: 1 unexpected"),
        DbtFailed(
            "dbt build failed (exit 1):\nFailure in test unique_orders_with_invoices_order_id"
        ),
        RuntimeError("dbt invocation completed with errors: not_null_order_id: Got 1 result"),
        KeyError("payload"),
        # a data-quality failure stays one, whatever its text says
        DataQualityFailed("sample row: {'note': 'Connection refused'}"),
    ],
    ids=["gx", "dbt-test", "cosmos-test", "bug", "quality-wins"],
)
def test_data_and_code_failures_are_not(error: BaseException) -> None:
    assert not is_transient(error)
