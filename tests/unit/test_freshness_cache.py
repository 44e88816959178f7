"""Kept freshness: headers may lag a moment, "included" is never decided on a kept lookup."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.read_api import freshness
from services.read_api.freshness_cache import FreshnessCache
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


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each lookup returns the next publication (watermarks 1, 2, 3, ...)."""
    made: list[int] = []

    def of_view(_conn: Any, _view: str) -> freshness.ViewFreshness:
        made.append(len(made) + 1)
        return _publication(made[-1])

    monkeypatch.setattr(freshness, "of_view", of_view)
    return made


def test_a_read_without_token_reuses_a_recent_lookup(lookups: list[int]) -> None:
    cache = FreshnessCache(ttl_s=60)
    first = cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    again = cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    assert (first.watermark, again.watermark, lookups) == (1, 1, [1])


def test_a_read_with_a_token_always_looks_up_and_refreshes(lookups: list[int]) -> None:
    cache = FreshnessCache(ttl_s=60)
    cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    exact = cache.of_view(None, "products", exact=True)  # type: ignore[arg-type]
    after = cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    assert (exact.watermark, after.watermark, lookups) == (2, 2, [1, 2])


def test_a_kept_lookup_expires(lookups: list[int]) -> None:
    cache = FreshnessCache(ttl_s=0)
    cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    assert cache.of_view(None, "products", exact=False).watermark == 2  # type: ignore[arg-type]


def test_nothing_published_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def unpublished(_conn: Any, view: str) -> freshness.ViewFreshness:
        calls.append(view)
        raise NotPublished("not yet")

    monkeypatch.setattr(freshness, "of_view", unpublished)
    cache = FreshnessCache(ttl_s=60)
    for _ in range(2):
        with pytest.raises(NotPublished):
            cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    assert calls == ["products", "products"]


def test_kept_lookups_are_vouched_for_only_while_publications_are_announced(
    lookups: list[int],
) -> None:
    cache = FreshnessCache(ttl_s=60)
    cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    assert cache.publications() == {}  # not listening: nothing is known to be current
    cache.announced = True
    assert set(cache.publications()) == {"products"}
    cache.forget("products")  # a publication of products was announced
    assert cache.publications() == {}
    cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    assert lookups == [1, 2]


def test_a_lookup_overtaken_by_an_announcement_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = FreshnessCache(ttl_s=60)
    cache.announced = True

    def announced_meanwhile(_conn: Any, _view: str) -> freshness.ViewFreshness:
        cache.forget("products")  # the publication lands while this lookup runs
        return _publication(1)

    monkeypatch.setattr(freshness, "of_view", announced_meanwhile)
    cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    assert cache.publications() == {}


def test_while_announced_a_kept_lookup_lasts_until_its_view_is_forgotten(
    lookups: list[int],
) -> None:
    cache = FreshnessCache(ttl_s=0.0, announced_ttl_s=60)
    cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    assert lookups == [1, 2]  # not announced: kept for ttl_s (here: not at all)
    cache.announced = True
    cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    assert lookups == [1, 2]  # the second lookup, kept
    cache.forget("products")
    cache.of_view(None, "products", exact=False)  # type: ignore[arg-type]
    assert lookups == [1, 2, 3]
