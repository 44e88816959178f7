"""When to come back for a write not yet served: from the rhythm of recent publications."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from datetime import datetime

# Without history (one publication or none) assume the default pipeline schedule's period.
DEFAULT_INTERVAL_S = 300.0
# A publication already due may be running now: look again soon, not at once.
OVERDUE_RETRY_S = 5
MAX_RETRY_S = 3600


def retry_after_seconds(published: Sequence[datetime], now: datetime) -> int:
    """Seconds until the next publication is expected, given recent ones (newest first).

    The interval is the median gap between recent publications, so one manual run between
    two scheduled ones does not shorten it much.
    """
    if not published:
        return OVERDUE_RETRY_S
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(published)]
    gaps = [g for g in gaps if g > 0]
    interval = statistics.median(gaps) if gaps else DEFAULT_INTERVAL_S
    due = interval - (now - published[0]).total_seconds()
    if due <= 0:
        return OVERDUE_RETRY_S
    return min(MAX_RETRY_S, max(1, math.ceil(due)))
