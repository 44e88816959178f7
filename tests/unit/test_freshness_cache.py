"""Kept freshness: headers may lag a moment, "included" is never decided on a kept lookup."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from config.settings import Settings
from services.read_api import freshness
from services.read_api.freshness_cache import FreshnessCache
from services.read_api.publication_listener import PublicationListener
from services.read_api.serving import NotPublished


def _publication(watermark: int) -> freshness.ViewFreshness:
    at = datetime(2026, 11, 28, tzinfo=UTC)
    return freshness.ViewFreshness(
        view="products",
        published_at=at,
        checked_at=at,
        newest_event_at=at,
        lag_seconds=0.0,
        published_seconds_ago=0.0,
        watermark=watermark,
    )


def _look(cache: FreshnessCache, *, exact: bool) -> freshness.ViewFreshness:
    return asyncio.run(cache.of_view(None, "products", exact=exact))  # type: ignore[arg-type]


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each lookup returns the next publication (watermarks 1, 2, 3, ...)."""
    made: list[int] = []

    async def of_view(_conn: Any, _view: str) -> freshness.ViewFreshness:
        made.append(len(made) + 1)
        return _publication(made[-1])

    monkeypatch.setattr(freshness, "of_view", of_view)
    return made


def test_a_read_without_token_reuses_a_recent_lookup(lookups: list[int]) -> None:
    cache = FreshnessCache(ttl_s=60)
    first = _look(cache, exact=False)
    again = _look(cache, exact=False)
    assert (first.watermark, again.watermark, lookups) == (1, 1, [1])


def test_a_read_with_a_token_always_looks_up_and_refreshes(lookups: list[int]) -> None:
    cache = FreshnessCache(ttl_s=60)
    _look(cache, exact=False)
    exact = _look(cache, exact=True)
    after = _look(cache, exact=False)
    assert (exact.watermark, after.watermark, lookups) == (2, 2, [1, 2])


def test_a_kept_lookup_expires(lookups: list[int]) -> None:
    cache = FreshnessCache(ttl_s=0)
    _look(cache, exact=False)
    assert _look(cache, exact=False).watermark == 2


def test_nothing_published_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    async def unpublished(_conn: Any, view: str) -> freshness.ViewFreshness:
        calls.append(view)
        raise NotPublished("not yet")

    monkeypatch.setattr(freshness, "of_view", unpublished)
    cache = FreshnessCache(ttl_s=60)
    for _ in range(2):
        with pytest.raises(NotPublished):
            _look(cache, exact=False)
    assert calls == ["products", "products"]


def test_kept_lookups_are_vouched_for_only_while_publications_are_announced(
    lookups: list[int],
) -> None:
    cache = FreshnessCache(ttl_s=60)
    _look(cache, exact=False)
    assert cache.publications() == {}  # not listening: nothing is known to be current
    cache.heard(time.monotonic())
    assert set(cache.publications()) == {"products"}
    cache.forget("products")  # a publication of products was announced
    assert cache.publications() == {}
    _look(cache, exact=False)
    assert lookups == [1, 2]


def test_a_lookup_overtaken_by_an_announcement_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = FreshnessCache(ttl_s=60)
    cache.heard(time.monotonic())

    async def announced_meanwhile(_conn: Any, _view: str) -> freshness.ViewFreshness:
        cache.forget("products")  # the publication lands while this lookup runs
        return _publication(1)

    monkeypatch.setattr(freshness, "of_view", announced_meanwhile)
    _look(cache, exact=False)
    assert cache.publications() == {}


def test_while_announced_a_kept_lookup_lasts_until_its_view_is_forgotten(
    lookups: list[int],
) -> None:
    cache = FreshnessCache(ttl_s=0.0, announced_ttl_s=60)
    _look(cache, exact=False)
    _look(cache, exact=False)
    assert lookups == [1, 2]  # not announced: kept for ttl_s (here: not at all)
    cache.heard(time.monotonic())
    _look(cache, exact=False)
    _look(cache, exact=False)
    assert lookups == [1, 2]  # the second lookup, kept
    cache.forget("products")
    _look(cache, exact=False)
    assert lookups == [1, 2, 3]


def test_a_listener_not_heard_from_within_the_bound_vouches_for_nothing(
    lookups: list[int],
) -> None:
    cache = FreshnessCache(ttl_s=60, bound_s=0.05)
    _look(cache, exact=False)
    cache.heard(time.monotonic())
    assert set(cache.publications()) == {"products"}
    time.sleep(0.06)  # the listener's connection hangs: no proof of life within the bound
    assert cache.publications() == {}
    cache.heard(time.monotonic())
    assert set(cache.publications()) == {"products"}
    cache.deaf()
    assert cache.publications() == {}


def test_where_listen_is_refused_readiness_says_kept_answers_are_off() -> None:
    listener = PublicationListener(Settings(), FreshnessCache())
    assert listener.check().detail.startswith("off until")
    listener.refused = "the database is a hot standby, which refuses LISTEN"
    check = listener.check()
    assert (check.ok, check.detail) == (True, "off: " + listener.refused)
