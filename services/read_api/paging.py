"""Keyset pages: a list route reads ``limit + 1`` rows; the extra one says a next page exists.

One helper for every paged route: it trims the rows to the page and, when there is more,
sets ``X-Next-Cursor`` to a sealed cursor holding the last served row's sort key, bound to
the filters of the request (services/read_api/cursors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from services.read_api.cursors import Cursors, filters_digest
from services.responses import documented

NEXT_CURSOR = "X-Next-Cursor"
NOT_PUBLISHED = "No view has been published yet (the pipeline has not run)"
BAD_INPUT = (
    "A cursor or position token this API did not issue (forged, damaged, or signed with a"
    " retired key), or a cursor reused with other filters"
)
_NEXT = {"headers": {NEXT_CURSOR: {"description": "Cursor of the next page, if any"}}}
Row = TypeVar("Row")


def paged_responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, object]]:
    """A list route's responses: the errors it can answer, and the next-page cursor header."""
    return {200: _NEXT, **documented(*codes, s400=BAD_INPUT, **descriptions)}


def page(
    rows: Sequence[Row],
    limit: int,
    headers: dict[str, str],
    cursors: Cursors,
    filters: Mapping[str, object],
    key_of: Callable[[Row], Sequence[Any]],
) -> Sequence[Row]:
    """The first ``limit`` rows; ``X-Next-Cursor`` set when a row beyond them was read,
    bound to ``filters`` (digested only then: most reads are one page)."""
    if len(rows) <= limit:
        return rows
    served = rows[:limit]
    headers[NEXT_CURSOR] = cursors.encode(filters_digest(**filters), key_of(served[-1]))
    return served
