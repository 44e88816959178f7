"""``cqrsw dead-letters``: list with filters, replay after a contract fix, discard with audit."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from kafka import KafkaProducer

from config.settings import Settings
from contracts import envelope
from cqrsw.cli import main
from database import connections
from database.names import WAREHOUSE_DATABASE
from ingest import dead_letters
from ingest.job import run_ingest
from tests.integration.test_ingest import count_rows
from tests.support.signing import stack_bytes

TOPIC = "order.cancelled"


def cancelled_v2(token: str) -> dict[str, object]:
    """An order.cancelled at schema version 2: no contract for it yet."""
    order_id = str(uuid.uuid4())
    return {
        "event_id": str(uuid.uuid4()), "event_type": TOPIC, "schema_version": 2,
        "aggregate_id": order_id, "aggregate_version": 2,
        "occurred_at": "2026-03-01T10:00:00Z", "producer": "orders", "request_id": token,
        "trace": {}, "payload": {"order_id": order_id, "reason": "late"},
    }  # fmt: skip


def archived(settings: Settings, ids: list[int]) -> list[tuple[int, str, str | None]]:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        rows = conn.execute(
            "select id, outcome, note from raw.dead_letter_archive where id = any(%s) order by id",
            (ids,),
        ).fetchall()
    return [(int(i), str(o), n) for i, o, n in rows]


def test_list_replay_after_a_contract_fix_and_discard_with_audit(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for name, value in settings.as_env().items():
        monkeypatch.setenv(name, value)
    token = uuid.uuid4().hex
    event = cancelled_v2(token)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    message = stack_bytes(settings, event)
    producer.send(TOPIC, key=str(event["aggregate_id"]).encode(), value=message)
    producer.send(TOPIC, key=b"k", value=f"not json {token}".encode())
    producer.flush()
    producer.close()
    run_ingest(settings)

    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        not_json = dead_letters.find(conn, dead_letters.Selection(topic=TOPIC, reason="not JSON"))
        unversioned = dead_letters.find(
            conn, dead_letters.Selection(topic=TOPIC, reason="no contract for order.cancelled v2")
        )
    [garbage] = [d for d in not_json if d.value == f"not json {token}".encode()]
    [letter] = [d for d in unversioned if d.value == message]
    assert main(["dead-letters", "list", "--topic", TOPIC, "--reason", "v2"]) == 0
    assert str(letter.id) in capsys.readouterr().out

    # Replay before the fix: still refused, still there.
    assert main(["dead-letters", "replay", str(letter.id)]) == 0
    assert "1 still refused" in capsys.readouterr().out
    assert count_rows(settings, "order_cancelled", [str(event["event_id"])]) == 0

    # The fix: a contract for order.cancelled v2 (here in a copy of contracts/).
    fixed = tmp_path / "contracts"
    shutil.copytree(envelope.CONTRACTS_DIR, fixed)
    v1 = fixed / "events" / "order.cancelled.v1.schema.json"
    shutil.copy(v1, fixed / "events" / "order.cancelled.v2.schema.json")
    monkeypatch.setattr(envelope, "CONTRACTS_DIR", fixed)
    envelope.payload_schema.cache_clear()
    envelope._payload_validator.cache_clear()
    try:
        for _ in range(2):  # a second replay finds nothing left: moved exactly once
            assert main(["dead-letters", "replay", "--topic", TOPIC, "--reason", "v2"]) == 0
    finally:
        envelope.payload_schema.cache_clear()
        envelope._payload_validator.cache_clear()
    assert count_rows(settings, "order_cancelled", [str(event["event_id"])]) == 1
    assert archived(settings, [letter.id]) == [(letter.id, "replayed", None)]

    # Discard needs a reason; then it leaves an audit row.
    assert main(["dead-letters", "discard", str(garbage.id)]) == 2
    assert main(["dead-letters", "discard", str(garbage.id), "--note", "test garbage"]) == 0
    assert archived(settings, [garbage.id]) == [(garbage.id, "discarded", "test garbage")]
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        left = dead_letters.find(conn, dead_letters.Selection(ids=(letter.id, garbage.id)))
    assert left == []
