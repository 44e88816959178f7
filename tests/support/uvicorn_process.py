"""An app served by a real uvicorn process on a free port, for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO

import httpx

from tests.support.throwaway_stack import free_port


@contextmanager
def uvicorn_process(
    app: str,
    env: Mapping[str, str],
    *,
    port: int | None = None,
    health: str = "/health",
    extra_args: Sequence[str] = (),
    timeout: float = 60,
) -> Iterator[str]:
    """Serve ``app`` (``module:factory``) until the block ends; yields its base URL."""
    port = port or free_port()
    argv = [
        sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--no-access-log", *extra_args,
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(proc, url + health, timeout, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_healthy(
    proc: subprocess.Popen[bytes],
    url: str,
    timeout: float,
    log: IO[bytes],
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(
                f"{url}: exited with {proc.returncode}:\n{log.read().decode()[-3000:]}"
            )
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}: not healthy after {timeout:.0f}s")
