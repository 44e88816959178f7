"""The first run on a fresh machine: the embedded PostgreSQL's OS user does not exist yet."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psutil
import pytest

from config.settings import Settings
from database import connections
from stack.lifecycle import Stack
from tests.support.throwaway_stack import throwaway_stack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="the server runs as another OS user only as root"),
]


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def _server_user(settings: Settings) -> str:
    pid = int((settings.state_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    return str(psutil.Process(pid).username())


def _answers(settings: Settings) -> bool:
    with connections.connect(settings, "warehouse") as conn:
        return conn.execute("select 1").fetchone() == (1,)


def test_a_user_that_does_not_exist_yet_is_created_and_takes_over_an_old_pgdata() -> None:
    first, second = (f"cqrsw_t{uuid.uuid4().hex[:10]}" for _ in range(2))
    assert not _exists(first) and not _exists(second)
    state = Path(tempfile.mkdtemp(prefix="cqrsw-first-run-"))
    try:
        with throwaway_stack(kafka=False, state_dir=state, pg_system_user=first) as settings:
            assert _exists(first)
            assert _answers(settings)
            assert _server_user(settings) == first
            assert Stack(settings).status()["postgres"].endswith(" up")
        assert Stack(settings).status()["postgres"].endswith(" down")

        # The same data folder, now owned by a uid that is not the configured user's: an
        # earlier run under another name, or the user deleted and created again.
        with throwaway_stack(kafka=False, state_dir=state, pg_system_user=second) as settings:
            assert _answers(settings)
            assert _server_user(settings) == second
            assert (state / "pgdata").stat().st_uid == pwd.getpwnam(second).pw_uid
    finally:
        shutil.rmtree(state, ignore_errors=True)
        for user in (first, second):
            if _exists(user):
                subprocess.run(["userdel", user], check=False, capture_output=True)
    assert not _exists(first) and not _exists(second)


def test_status_and_down_on_a_fresh_machine_create_nothing(tmp_path: Path) -> None:
    user = f"cqrsw_t{uuid.uuid4().hex[:10]}"
    stack = Stack(Settings(state_dir=tmp_path / "state", pg_system_user=user))
    assert stack.status()["postgres"].endswith(" down")
    assert "postgres" not in stack.down()
    assert not _exists(user)
