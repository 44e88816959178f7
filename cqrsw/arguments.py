"""Argument types the ``cqrsw`` commands share: a wrong value is a usage error naming it."""

from __future__ import annotations

import argparse
from datetime import datetime


def aware_time(value: str) -> datetime:
    """An ISO 8601 time with a zone (``2026-11-27T10:00:00Z``)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {value!r} (e.g. 2026-11-27T10:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone, e.g. {value}Z")
    return moment
