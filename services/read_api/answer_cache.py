"""Answers kept per caller, request and publication: a published view never changes in place.

A view in ``serving`` changes only when the pipeline publishes it again (a new row in
``serving.publications``), so an answer computed for one publication is the answer to the
same request, from the same caller, until the next one. Recomputing it (a pooled
connection, a query, a response model) was most of what a read cost. Entries are kept per
view and publication: when a newer publication of a view is seen, all its older answers go
at once. What is kept is bounded in bytes, least recently used first out.

Only what the read path decides is kept here; services/read_api/answer_middleware.py
decides which requests may use it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime

ENTRY_OVERHEAD_BYTES = 200  # key, headers list and bookkeeping, roughly, per kept answer
MAX_ANSWER_BYTES = 1_048_576  # a larger answer is served but not kept


@dataclass(frozen=True)
class Answer:
    """A complete 200 answer: its view, the publication it was computed at, headers and body."""

    view: str
    publication: datetime  # the view's X-View-Published-At when the answer was read
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + ENTRY_OVERHEAD_BYTES


class AnswerCache:
    """Answers by request key, for the publication each view is at; bounded in bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._answers: OrderedDict[Hashable, Answer] = OrderedDict()
        self._publication: dict[str, datetime] = {}  # the newest publication seen per view
        self._bytes = 0
        self._lock = threading.Lock()  # lookups run on the event loop, but be safe anyway

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @property
    def kept_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: Hashable, current: Mapping[str, datetime]) -> Answer | None:
        """The kept answer to ``key`` if its view is still at the publication it was made at.

        ``current`` holds each view's latest publication as known now; a view missing from it
        is not known to be current, and its answers are not served."""
        with self._lock:
            answer = self._answers.get(key)
            if answer is None:
                return None
            if current.get(answer.view) != answer.publication:
                return None
            self._answers.move_to_end(key)
            return answer

    def put(self, key: Hashable, answer: Answer) -> bool:
        """Keep ``answer``; False if it is too large, or made at an older publication than one
        already seen for its view (a newer one's answers have replaced it)."""
        size = answer.size
        if not self.enabled or size > min(self.max_bytes, MAX_ANSWER_BYTES):
            return False
        with self._lock:
            seen = self._publication.get(answer.view)
            if seen != answer.publication:
                if seen is not None and answer.publication < seen:
                    return False
                self._drop_view(answer.view)
                self._publication[answer.view] = answer.publication
            old = self._answers.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._answers[key] = answer
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._answers.popitem(last=False)
                self._bytes -= evicted.size
            return True

    def _drop_view(self, view: str) -> None:
        stale = [key for key, answer in self._answers.items() if answer.view == view]
        for key in stale:
            self._bytes -= self._answers.pop(key).size
