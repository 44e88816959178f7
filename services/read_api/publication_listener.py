"""Hears each publication (PostgreSQL ``LISTEN``) and forgets what was kept of its view.

pipeline/publish.py notifies ``PUBLICATIONS_CHANNEL`` in the publishing transaction, so the
announcement arrives at commit. The listening connection proves itself alive every
``HEARTBEAT_S`` (a ``select 1`` answered on it means every announcement sent before was
delivered) and libpq's TCP keepalives and user timeout end a connection whose peer is gone.
A connection that dies, or hangs without a word, stops the freshness cache vouching for
kept answers within ``KEPT_ANSWERS_BOUND_S`` (services/read_api/freshness_cache.py); every
read then looks up, until it listens again.

A hot standby refuses ``LISTEN``: there the read API says so at start and in
``/health/ready``, and serves every read computed (docs/scaling.md).
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from config.database_settings import DbRole
from config.settings import Settings
from database.names import WAREHOUSE_DATABASE
from database.warehouse import PUBLICATIONS_CHANNEL
from services.health import Check
from services.read_api.freshness_cache import KEPT_ANSWERS_BOUND_S, FreshnessCache

log = logging.getLogger(__name__)
RECONNECT_S = 1.0
HEARTBEAT_S = KEPT_ANSWERS_BOUND_S / 4  # several proofs of life within the bound
APPLICATION_NAME = "cqrsw-read-api-publications"
# libpq: probe an idle connection after 1 s, every 1 s, give up after 2 unanswered probes; and
# give up on data sent but not acknowledged within the bound (a peer gone mid-heartbeat).
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 1,
    "keepalives_interval": 1,
    "keepalives_count": 2,
    "tcp_user_timeout": int(KEPT_ANSWERS_BOUND_S * 1000),
}


class ListenRefused(Exception):
    """The server cannot deliver notifications to this connection (a hot standby)."""


class PublicationListener:
    def __init__(self, settings: Settings, freshness_cache: FreshnessCache):
        self.settings = settings
        self.freshness_cache = freshness_cache
        self.refused: str | None = None  # why kept answers are off for good, if they are

    def check(self) -> Check:
        """For /health/ready: whether answers are kept, and why not. Never a failure: every
        read is served either way."""
        if self.refused is not None:
            return Check(ok=True, detail=f"off: {self.refused}")
        if self.freshness_cache.announced:
            return Check(ok=True, detail="on: publications are heard")
        return Check(ok=True, detail="off until the publication listener hears again")

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._listen(stop)
            except ListenRefused as exc:
                self.refused = str(exc)
                log.warning("kept answers are off: %s", exc)
                return
            except psycopg.Error as exc:
                log.warning("not hearing publications (kept answers not served): %s", exc)
            finally:
                self.freshness_cache.deaf()
                self.freshness_cache.forget()
            stop.wait(RECONNECT_S)

    def _listen(self, stop: threading.Event) -> None:
        dsn = make_conninfo(
            self.settings.dsn(WAREHOUSE_DATABASE, DbRole.READ_API),
            application_name=APPLICATION_NAME,
            **_KEEPALIVES,
        )
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            standby = conn.execute("select pg_is_in_recovery()").fetchone()
            if standby is not None and standby[0]:
                raise ListenRefused(
                    "the database is a hot standby, which refuses LISTEN: publications cannot"
                    " be heard, so every read is computed (run the listener on the primary)"
                )
            conn.execute(sql.SQL("listen {}").format(sql.Identifier(PUBLICATIONS_CHANNEL)))
            # Whatever was kept before listening may predate a publication missed meanwhile.
            self.freshness_cache.forget()
            self.freshness_cache.heard(time.monotonic())
            while not stop.is_set():
                for note in conn.notifies(timeout=HEARTBEAT_S):
                    self.freshness_cache.forget(note.payload)
                sent = time.monotonic()
                conn.execute("select 1")  # answered: all sent before it was delivered
                self.freshness_cache.heard(sent)
