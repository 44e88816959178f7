"""The latest publication of each view, kept for a moment: most reads need it only for headers.

Without a position token a read's freshness headers may come from a lookup up to ``ttl_s``
old. They then name an older publication than the rows served: the answer is newer than its
headers say, never older, as with a publication landing between lookup and query. A read
with a position token always looks up (and refreshes what is kept), so "included" is decided
on the latest watermark, never on a kept one.
"""

from __future__ import annotations

import time

import psycopg

from services.read_api import freshness

TTL_S = 1.0  # how stale the headers of a read without a position token may be


class FreshnessCache:
    def __init__(self, ttl_s: float = TTL_S):
        self.ttl_s = ttl_s
        self._kept: dict[str, tuple[float, freshness.ViewFreshness]] = {}

    def of_view(
        self, conn: psycopg.Connection, view: str, *, exact: bool
    ) -> freshness.ViewFreshness:
        """The latest publication of ``view``; looked up when ``exact`` or when kept too long."""
        now = time.monotonic()
        kept = self._kept.get(view)
        if not exact and kept is not None and now - kept[0] < self.ttl_s:
            return kept[1]
        found = freshness.of_view(conn, view)  # NotPublished is never kept
        self._kept[view] = (now, found)  # one dict store: safe across worker threads
        return found
