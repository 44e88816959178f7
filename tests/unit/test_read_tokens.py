"""Position tokens, keyset cursors and Retry-After: the pure parts of the read contract."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services import position
from services.read_api import cursors
from services.read_api.retry import DEFAULT_INTERVAL_S, OVERDUE_RETRY_S, retry_after_seconds
from services.sealed import Seal

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


KEY = b"k" * 32
EVENT: dict[str, object] = {
    "event_type": "order.created",
    "event_id": "6d3f5d4e-0e0b-4a53-9d0e-6a1f2b3c4d5e",
    "aggregate_id": "a-1",
    "aggregate_version": 3,
}
URLSAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def _flip(token: str, at: int) -> str:
    """``token`` with one bit of its payload or tag changed (kept in the base64url alphabet)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if token[at] == ".":
        at += 1
    swapped = alphabet[alphabet.index(token[at]) ^ 1]
    return token[:at] + swapped + token[at + 1 :]


def test_a_position_token_round_trips_sealed_and_opaque() -> None:
    tokens = position.PositionTokens(KEY)
    answer = tokens.answer({"order_id": "o-1", position.POSITION: position.payload_of(EVENT)})
    token = answer[position.TOKEN]
    assert set(answer) == {"order_id", position.TOKEN}
    assert set(token) <= URLSAFE
    expected = position.Position("order.created", uuid.UUID(str(EVENT["event_id"])), "a-1", 3)
    assert tokens.decode(token) == expected


def _sealed(payload: bytes, key: bytes = KEY) -> str:
    return position.PositionTokens(key).token(payload.decode())


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a token!",
        "bm90IGpzb24",  # "not json", unsealed
        base64.urlsafe_b64encode(position.payload_of(EVENT).encode()).decode(),  # unsealed
        _sealed(b"not json"),
        _sealed(b'[1, "no.such.topic", "x", "a", 1]'),
        _sealed(b'[2, "order.created", "6d3f5d4e-0e0b-4a53-9d0e-6a1f2b3c4d5e", "a", 1]'),
        _sealed(b'[1, "order.created", "not-a-uuid", "a", 1]'),
        _sealed(b'[1, "order.created", 5, "a", 1]'),
        _sealed(b'{"a": 1}'),
        _sealed(position.payload_of(EVENT).encode(), key=b"another key" * 3),  # wrong key
    ],
)
def test_anything_else_is_a_bad_position_token(token: str) -> None:
    with pytest.raises(position.BadPositionToken):
        position.PositionTokens(KEY).decode(token)


def test_a_damaged_position_token_is_refused() -> None:
    tokens = position.PositionTokens(KEY)
    token = tokens.token(position.payload_of(EVENT))
    for at in range(0, len(token), 7):
        with pytest.raises(position.BadPositionToken):
            tokens.decode(_flip(token, at))
    for cut in (1, len(token) // 2, len(token) - 1):
        with pytest.raises(position.BadPositionToken):
            tokens.decode(token[:cut])


def test_a_cursor_carries_its_key_for_the_same_filters_only() -> None:
    made = cursors.Cursors(KEY)
    digest = cursors.filters_digest(user_id="alice", status=None)
    cursor = made.encode(digest, ["2026-03-01T10:00:00+00:00", "id-1"])
    assert made.decode(cursor, digest, 2) == ["2026-03-01T10:00:00+00:00", "id-1"]
    other = cursors.filters_digest(user_id="alice", status="created")
    with pytest.raises(cursors.BadCursor, match="other filters"):
        made.decode(cursor, other, 2)
    with pytest.raises(cursors.BadCursor):
        made.decode(cursor, digest, 1)
    damaged = [_flip(cursor, at) for at in range(0, len(cursor), 5)]
    truncated = [cursor[:cut] for cut in (1, 20, len(cursor) - 1)]
    wrong_key = cursors.Cursors(b"another key" * 3).encode(digest, ["2026-03-01", "id-1"])
    for junk in ("%%%", "e30", "e30.e30", *damaged, *truncated, wrong_key):
        with pytest.raises(cursors.BadCursor):
            made.decode(junk, digest, 2)


def test_a_cursor_of_another_version_or_kind_is_refused() -> None:
    digest = cursors.filters_digest()
    seal = Seal(KEY, "cqrsw keyset cursor")
    with pytest.raises(cursors.BadCursor, match="unsupported version"):
        cursors.Cursors(KEY).decode(seal.seal(b'[2, "%s", "sku-1"]' % digest.encode()), digest, 1)
    # A position token is sealed with a key of its own: it is no cursor.
    token = position.PositionTokens(KEY).token(f'[1, "{digest}", "sku-1"]')
    with pytest.raises(cursors.BadCursor):
        cursors.Cursors(KEY).decode(token, digest, 1)


@given(st.text(max_size=600))
def test_no_string_is_anything_but_a_cursor_or_a_bad_one(text: str) -> None:
    digest = cursors.filters_digest()
    with pytest.raises(cursors.BadCursor):
        cursors.Cursors(KEY).decode(text, digest, 1)
    with pytest.raises(position.BadPositionToken):
        position.PositionTokens(KEY).decode(text)


def test_retry_after_follows_the_rhythm_of_publications() -> None:
    every_5_min = [T0 - timedelta(minutes=5 * i) for i in range(6)]
    assert retry_after_seconds(every_5_min, T0 + timedelta(minutes=1)) == 240
    # A manual run in between barely moves the median interval.
    with_manual = sorted([*every_5_min, T0 - timedelta(minutes=7)], reverse=True)
    assert retry_after_seconds(with_manual, T0 + timedelta(minutes=1)) == 240
    assert retry_after_seconds(every_5_min, T0 + timedelta(minutes=6)) == OVERDUE_RETRY_S
    assert retry_after_seconds([T0], T0) == DEFAULT_INTERVAL_S
    assert retry_after_seconds([], T0) == OVERDUE_RETRY_S
