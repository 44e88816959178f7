"""The ingest job against the real broker and warehouse: duplicates, poison, kills, lost logs."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from bench.events import event_stream
from config.settings import Settings
from contracts.envelope import EventMeta, make_event
from database import connections
from database.locks import INGEST_LOCK
from database.names import WAREHOUSE_DATABASE
from ingest import warehouse
from ingest.job import IngestBusy, run_ingest
from services.outbox import make_producer, producer_config
from stack.lifecycle import Stack
from tests.support.signing import stack_bytes


def order_created(user: str = "ingest-test") -> dict[str, Any]:
    order_id = str(uuid.uuid4())
    payload = {
        "order_id": order_id,
        "user_id": user,
        "customer_name": "I",
        "items": [],
        "channel": "web",
    }
    return make_event("order.created", aggregate_id=order_id, aggregate_version=1,
                      payload=payload, meta=EventMeta(producer="orders"))  # fmt: skip


def send(settings: Settings, messages: list[tuple[str, bytes | None, bytes]]) -> None:
    p = make_producer(settings)
    for topic, key, value in messages:
        p.send(topic, key=key, value=value)
    p.flush()
    p.close()


def count_rows(settings: Settings, table: str, event_ids: list[str]) -> int:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        row = conn.execute(
            f"select count(*) from raw.{table} where event_id = any(%s::uuid[])",
            (event_ids,),
        ).fetchone()
    return int(row[0]) if row else -1


def test_the_same_event_delivered_twice_lands_once(settings: Settings) -> None:
    event = order_created()
    message = ("order.created", event["aggregate_id"].encode(), stack_bytes(settings, event))
    send(settings, [message, message])
    run_ingest(settings)
    assert count_rows(settings, "order_created", [event["event_id"]]) == 1
    # Re-sent in a later run (a relay retry or an outbox replay): still once.
    send(settings, [message])
    report = run_ingest(settings)
    assert report.topics["order.created"].rows_written == 0
    assert count_rows(settings, "order_created", [event["event_id"]]) == 1


def test_poison_messages_become_dead_letters_with_their_reason(settings: Settings) -> None:
    token = uuid.uuid4().hex
    good = order_created()
    wrong_type = {**order_created(), "event_type": "order.shipped"}
    invalid = order_created()
    invalid["payload"]["customer_name"] = ""
    poison = {
        "not JSON": ("order.created", b"k", f"{{not json {token}".encode()),
        "contract violation: envelope": ("order.created", wrong_type["aggregate_id"].encode(),
                                         orjson.dumps({**wrong_type, "producer": token})),
        "contract violation: payload": ("order.created", invalid["aggregate_id"].encode(),
                                        orjson.dumps({**invalid, "producer": token})),
        "missing key": ("order.created", None,
                        orjson.dumps({**order_created(), "producer": token})),
        "published to topic": ("invoice.created", good["aggregate_id"].encode(),
                               orjson.dumps({**good, "producer": token})),
    }  # fmt: skip
    send(settings, list(poison.values()))
    report = run_ingest(settings)
    assert report.topics["order.created"].dead_letters >= 4
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        rows = conn.execute(
            "select kafka_topic, message_key, message_value, reason from raw.dead_letter_events"
            " where position(%s::bytea in message_value) > 0",
            (token.encode(),),
        ).fetchall()
    assert len(rows) == len(poison)
    for reason, (topic, key, value) in poison.items():
        [match] = [r for r in rows if bytes(r[2]) == value]
        assert match[0] == topic
        assert (bytes(match[1]) if match[1] is not None else None) == key
        assert reason in match[3]
    assert count_rows(settings, "invoice_created", [good["event_id"]]) == 0


def committed_offsets(settings: Settings) -> int:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        row = conn.execute(
            "select coalesce(sum(next_offset), 0) from raw.ingest_offsets"
        ).fetchone()
    return int(row[0]) if row else 0


def produce_tracked(settings: Settings, count: int) -> dict[str, tuple[int, int]]:
    """Produce fresh events; return where each landed (partition, offset)."""
    events = [
        {**e, "event_id": str(uuid.uuid4())}
        for e in event_stream(count, namespace=uuid.uuid4().hex[:8])
    ]
    p = make_producer(settings)
    futures = [
        (
            e["event_id"],
            p.send(e["event_type"], key=e["aggregate_id"].encode(), value=stack_bytes(settings, e)),
        )
        for e in events
    ]
    p.flush()
    p.close()
    return {event_id: (f.get().partition, f.get().offset) for event_id, f in futures}


def test_sigkill_at_random_points_then_rerun_gives_the_same_raw_tables(settings: Settings) -> None:
    """Kill the job mid-run several times; the re-run must leave each event exactly once."""
    env = {**os.environ, **settings.as_env()}
    # Two worker processes: the kill must take them down too (they die with their parent).
    argv = [sys.executable, "-m", "cqrsw.cli", "ingest", "--batch-size", "300", "--workers", "2"]
    where: dict[str, tuple[int, int]] = {}
    kills = 0
    for _ in range(4):
        where |= produce_tracked(settings, 10_000)
        committed = committed_offsets(settings)
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while proc.poll() is None and committed_offsets(settings) == committed:
            assert time.monotonic() < deadline, "the ingest job committed nothing in 60 s"
            time.sleep(0.01)
        time.sleep(random.uniform(0, 0.1))  # somewhere inside a later batch
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert kills >= 2, f"only {kills} of 4 runs were still going when killed"

    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        found: dict[str, tuple[int, int]] = {}
        for table in ("order_created", "order_cancelled", "invoice_created", "stock_updated"):
            for event_id, partition, offset in conn.execute(
                f"select event_id::text, kafka_partition, kafka_offset from raw.{table}"
                " where event_id = any(%s::uuid[])",
                (list(where),),
            ):
                assert event_id not in found
                found[event_id] = (partition, offset)
    assert found == where  # every event once, from the message it was produced as


def test_a_broker_that_lost_its_log_is_detected_and_nothing_is_lost(settings: Settings) -> None:
    """Memory-only Tansu restarted: shorter log, then a log refilled past the stored offsets."""
    stack = Stack(settings)
    before = [order_created() for _ in range(40)]
    send(
        settings,
        [("order.created", e["aggregate_id"].encode(), stack_bytes(settings, e)) for e in before],
    )
    run_ingest(settings)

    for refill in (10, 120):  # first fewer messages than were read, then more
        stack.stop_kafka()
        stack.start_kafka()
        stack.create_topics()
        after = [order_created() for _ in range(refill)]
        send(
            settings,
            [
                ("order.created", e["aggregate_id"].encode(), stack_bytes(settings, e))
                for e in after
            ],
        )
        report = run_ingest(settings)
        assert report.resets, "the lost log went unnoticed"
        assert any("order.created" in r for r in report.resets)
        assert count_rows(settings, "order_created", [e["event_id"] for e in after]) == refill
    assert count_rows(settings, "order_created", [e["event_id"] for e in before]) == len(before)
    assert not run_ingest(settings).resets  # once re-read, the next run carries on normally


def test_a_partition_whose_last_offsets_hold_no_record_ends_the_run_promptly(
    settings: Settings,
) -> None:
    """A transaction's commit marker takes an offset no client hands on: the partition's end
    lies past its last record, and the run must still see it read to the end, not wait."""
    event = order_created()
    producer = KafkaProducer(
        **producer_config(settings), transactional_id=f"ingest-test-{uuid.uuid4().hex}"
    )
    producer.init_transactions()
    producer.begin_transaction()
    sent = producer.send(
        "order.created", key=event["aggregate_id"].encode(), value=stack_bytes(settings, event)
    )
    producer.commit_transaction()
    producer.close()
    partition, offset = sent.get().partition, sent.get().offset
    hurried = settings.model_copy(update={"ingest_deadline_s": 30.0})

    report = run_ingest(hurried)  # DeadlineExceeded if the marker's offset were awaited
    assert report.seconds < 10
    assert count_rows(settings, "order_created", [event["event_id"]]) == 1
    assert report.partition_lag[("order.created", partition)] == 0
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        stored = warehouse.stored_offsets(conn)[("order.created", partition)]
    # Kept after the record, not after the marker: the next run finds its message before it.
    assert stored.next_offset == offset + 1
    again = run_ingest(hurried)  # starts at the marker: nothing but it before the end
    assert again.seconds < 10
    assert not again.resets
    assert again.topics["order.created"].rows_written == 0
    assert again.partition_lag[("order.created", partition)] == 0


@pytest.fixture(autouse=True)
def _no_leftover_lag(settings: Settings) -> None:
    """Each test starts from a caught-up warehouse, so its assertions see only its own events."""
    run_ingest(settings)


def test_a_second_concurrent_run_is_refused_clearly(settings: Settings) -> None:
    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (INGEST_LOCK,))
        with pytest.raises(IngestBusy, match="another ingest run is in progress"):
            run_ingest(settings)
        conn.execute("select pg_advisory_unlock(%s)", (INGEST_LOCK,))
    run_ingest(settings)  # free again
