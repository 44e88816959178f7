"""Kept answers: served only at the publication they were made at, bounded in bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.read_api.answer_cache import MAX_ANSWER_BYTES, Answer, AnswerCache

P1 = datetime(2026, 11, 28, 10, tzinfo=UTC)
P2 = P1 + timedelta(minutes=1)


def _answer(view: str, publication: datetime, body: bytes = b"[]") -> Answer:
    return Answer(view, publication, ((b"content-type", b"application/json"),), body)


def test_an_answer_is_served_while_its_view_is_at_its_publication() -> None:
    cache = AnswerCache(max_bytes=1_000_000)
    assert cache.put("a", _answer("products", P1, b"[1]"))
    hit = cache.get("a", {"products": P1})
    assert hit is not None and hit.body == b"[1]"
    assert cache.get("a", {"products": P2}) is None  # published since
    assert cache.get("a", {}) is None  # not known to be current: never served
    assert cache.get("b", {"products": P1}) is None


def test_a_newer_publication_drops_the_older_answers_of_its_view_only() -> None:
    cache = AnswerCache(max_bytes=1_000_000)
    cache.put("a", _answer("products", P1))
    cache.put("o", _answer("orders_with_invoices", P1))
    cache.put("b", _answer("products", P2))
    assert len(cache) == 2
    assert cache.get("a", {"products": P1}) is None
    assert cache.get("o", {"orders_with_invoices": P1}) is not None
    # An answer made at the older publication, arriving late, is not kept.
    assert not cache.put("late", _answer("products", P1))
    assert cache.get("late", {"products": P1}) is None


def test_the_least_recently_used_answers_go_first_beyond_the_byte_bound() -> None:
    one = _answer("products", P1, b"x" * 1000)
    cache = AnswerCache(max_bytes=3 * one.size)
    for key in "abc":
        cache.put(key, one)
    assert cache.get("a", {"products": P1}) is not None  # a is now the most recent
    cache.put("d", one)
    assert cache.kept_bytes <= cache.max_bytes
    kept = {key for key in "abcd" if cache.get(key, {"products": P1}) is not None}
    assert kept == {"a", "c", "d"}


def test_too_large_answers_and_a_disabled_cache_keep_nothing() -> None:
    cache = AnswerCache(max_bytes=10 * MAX_ANSWER_BYTES)
    assert not cache.put("big", _answer("products", P1, b"x" * MAX_ANSWER_BYTES))
    off = AnswerCache(max_bytes=0)
    assert not off.enabled
    assert not off.put("a", _answer("products", P1))
    assert off.get("a", {"products": P1}) is None
