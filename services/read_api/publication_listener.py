"""Hears each publication (PostgreSQL ``LISTEN``) and forgets what was kept of its view.

pipeline/publish.py notifies ``PUBLICATIONS_CHANNEL`` in the publishing transaction, so the
announcement arrives at commit. While the listening connection is down (a PostgreSQL
restart, a network cut) nothing is vouched for as current: kept answers are not served and
every read looks up, until it listens again.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from psycopg import sql

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import PUBLICATIONS_CHANNEL
from services.read_api.freshness_cache import FreshnessCache

log = logging.getLogger(__name__)
RECONNECT_S = 1.0


class PublicationListener:
    def __init__(self, settings: Settings, freshness: FreshnessCache):
        self.settings = settings
        self.freshness = freshness

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._listen(stop)
            except psycopg.Error as exc:
                log.warning("not hearing publications (kept answers not served): %s", exc)
            finally:
                self.freshness.announced = False
                self.freshness.forget()
            stop.wait(RECONNECT_S)

    def _listen(self, stop: threading.Event) -> None:
        with connections.connect(
            self.settings, WAREHOUSE_DATABASE, autocommit=True, role=DbRole.READ_API
        ) as conn:
            conn.execute(sql.SQL("listen {}").format(sql.Identifier(PUBLICATIONS_CHANNEL)))
            # Whatever was kept before listening may predate a publication missed meanwhile.
            self.freshness.forget()
            self.freshness.announced = True
            while not stop.is_set():
                for note in conn.notifies(timeout=0.25):  # then look at stop
                    self.freshness.forget(note.payload)
