"""Position tokens, keyset cursors and Retry-After: the pure parts of the read contract."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services import position
from services.read_api import cursors
from services.read_api.retry import DEFAULT_INTERVAL_S, OVERDUE_RETRY_S, retry_after_seconds

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_a_position_token_round_trips_and_is_opaque() -> None:
    event_id = uuid.uuid4()
    event: dict[str, object] = {
        "event_type": "order.created",
        "event_id": str(event_id),
        "aggregate_id": "a-1",
        "aggregate_version": 3,
    }
    token = position.token_of(event)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert position.decode(token) == position.Position("order.created", event_id, "a-1", 3)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a token!",
        "bm90IGpzb24",  # "not json"
        base64.urlsafe_b64encode(b'[1, "no.such.topic", "x", "a", 1]').decode(),
        base64.urlsafe_b64encode(
            b'[2, "order.created", "6d3f5d4e-0e0b-4a53-9d0e-6a1f2b3c4d5e", "a", 1]'
        ).decode(),
        base64.urlsafe_b64encode(b'[1, "order.created", "not-a-uuid", "a", 1]').decode(),
        base64.urlsafe_b64encode(b'[1, "order.created", 5, "a", 1]').decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
    ],
)
def test_anything_else_is_a_bad_position_token(token: str) -> None:
    with pytest.raises(position.BadPositionToken):
        position.decode(token)


def test_a_cursor_carries_its_key_for_the_same_filters_only() -> None:
    digest = cursors.filters_digest(user_id="alice", status=None)
    cursor = cursors.encode(digest, ["2026-03-01T10:00:00+00:00", "id-1"])
    assert cursors.decode(cursor, digest, 2) == ["2026-03-01T10:00:00+00:00", "id-1"]
    other = cursors.filters_digest(user_id="alice", status="created")
    with pytest.raises(cursors.BadCursor, match="other filters"):
        cursors.decode(cursor, other, 2)
    with pytest.raises(cursors.BadCursor):
        cursors.decode(cursor, digest, 1)
    for junk in ("%%%", "e30", cursor[:-3]):
        with pytest.raises(cursors.BadCursor):
            cursors.decode(junk, digest, 2)


def test_retry_after_follows_the_rhythm_of_publications() -> None:
    every_5_min = [T0 - timedelta(minutes=5 * i) for i in range(6)]
    assert retry_after_seconds(every_5_min, T0 + timedelta(minutes=1)) == 240
    # A manual run in between barely moves the median interval.
    with_manual = sorted([*every_5_min, T0 - timedelta(minutes=7)], reverse=True)
    assert retry_after_seconds(with_manual, T0 + timedelta(minutes=1)) == 240
    assert retry_after_seconds(every_5_min, T0 + timedelta(minutes=6)) == OVERDUE_RETRY_S
    assert retry_after_seconds([T0], T0) == DEFAULT_INTERVAL_S
    assert retry_after_seconds([], T0) == OVERDUE_RETRY_S
