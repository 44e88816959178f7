"""The latest publication of each view, kept for a moment: most reads need it only for headers.

Without a position token a read's freshness headers may come from a lookup up to ``ttl_s``
old. They then name an older publication than the rows served: the answer is newer than its
headers say, never older, as with a publication landing between lookup and query. A read
with a position token always looks up (and refreshes what is kept), so "included" is decided
on the latest watermark, never on a kept one.

A publication is announced (services/read_api/publication_listener.py): what is kept of its
view is forgotten then, so the next read looks up. Only while that announcement is heard
are kept lookups vouched for as current (``publications``): the answer cache relies on it.
"Heard" means the listening connection was proven alive less than ``KEPT_ANSWERS_BOUND_S``
ago; a connection that died or hangs without a word stops the vouching within that bound.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import psycopg

from services.read_api import freshness

TTL_S = 1.0  # how stale the headers of a read without a position token may be
# While publications are announced a kept lookup is current until its view's announcement
# forgets it; this bound is only a backstop.
ANNOUNCED_TTL_S = 30.0
# The longest a kept answer may be served after a publication it does not include: the
# listener proves its connection alive several times within it, and when it has not, nothing
# kept is vouched for as current.
KEPT_ANSWERS_BOUND_S = 2.0


class FreshnessCache:
    def __init__(
        self,
        ttl_s: float = TTL_S,
        announced_ttl_s: float = ANNOUNCED_TTL_S,
        bound_s: float = KEPT_ANSWERS_BOUND_S,
    ):
        self._ttl_s = ttl_s
        self._announced_ttl_s = announced_ttl_s
        self._bound_s = bound_s
        self._kept: dict[str, tuple[float, freshness.ViewFreshness]] = {}
        self._forgotten = 0  # counts forget calls: a lookup racing one is not kept
        self._lock = threading.Lock()
        self._heard_at: float | None = None  # when the listener was last proven alive

    def heard(self, at: float) -> None:
        """Every publication announced before ``at`` (time.monotonic) has been heard."""
        self._heard_at = at

    def deaf(self) -> None:
        """Publications are not heard (no listener, or it lost its connection)."""
        self._heard_at = None

    @property
    def announced(self) -> bool:
        """Publications are being announced to this process, as of less than the bound ago."""
        heard_at = self._heard_at
        return heard_at is not None and time.monotonic() - heard_at < self._bound_s

    @property
    def ttl_s(self) -> float:
        return self._announced_ttl_s if self.announced else self._ttl_s

    def kept(self, view: str) -> freshness.ViewFreshness | None:
        """The latest publication of ``view`` as kept, if not kept too long (no IO)."""
        kept = self._kept.get(view)
        if kept is not None and time.monotonic() - kept[0] < self.ttl_s:
            return kept[1]
        return None

    async def of_view(
        self, conn: psycopg.AsyncConnection, view: str, *, exact: bool
    ) -> freshness.ViewFreshness:
        """The latest publication of ``view``; looked up when ``exact`` or when kept too long."""
        now = time.monotonic()
        kept = self._kept.get(view)
        if not exact and kept is not None and now - kept[0] < self.ttl_s:
            return kept[1]
        forgotten = self._forgotten
        found = await freshness.of_view(conn, view)  # NotPublished is never kept
        with self._lock:
            # Looked up before an announcement arrived: it may predate that publication.
            if forgotten == self._forgotten:
                self._kept[view] = (now, found)
        return found

    def forget(self, view: str | None = None) -> None:
        """A view was published (all views when None): its next read looks up."""
        with self._lock:
            self._forgotten += 1
            if view is None:
                self._kept.clear()
            else:
                self._kept.pop(view, None)

    def publications(self) -> dict[str, datetime]:
        """When each view kept within ``ttl_s`` was published, if publications are announced:
        what is known to be current, without IO. Empty while announcements are not heard."""
        if not self.announced:
            return {}
        now = time.monotonic()
        return {
            view: found.published_at
            for view, (at, found) in list(self._kept.items())
            if now - at < self.ttl_s
        }
