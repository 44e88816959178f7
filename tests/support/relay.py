"""Drain the write services' outboxes by hand: the tests' relays are off, for determinism."""

from __future__ import annotations

from config.settings import Settings
from database import connections
from services.outbox import Relay


def relay_all(settings: Settings, *services: str) -> int:
    published = 0
    for name in services:
        pool = connections.open_pool(settings, name, max_size=1)
        try:
            published += Relay(settings, pool).drain()
        finally:
            pool.close()
    return published
