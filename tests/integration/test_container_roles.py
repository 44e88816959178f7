"""The image's entry point started as a container would start it, on the session's engines."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import psutil

from config.settings import Settings
from tests.support.throwaway_stack import free_port


def test_a_service_role_serves_on_all_interfaces(settings: Settings) -> None:
    port = free_port()
    env = {**os.environ, **settings.as_env(), "CQRSW_READ_API_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cqrsw.container", "read-api"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert status == 200, proc.communicate()[0].decode() if proc.poll() is not None else status
        listening = {
            (c.laddr[0], c.laddr[1])
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr
        }
        assert ("0.0.0.0", port) in listening
    finally:
        proc.terminate()
        proc.wait(15)


def test_a_wrong_setting_stops_a_role_with_a_one_line_error(settings: Settings) -> None:
    env = {**os.environ, **settings.as_env(), "CQRSW_READ_API_PORT": "70000"}
    done = subprocess.run(
        [sys.executable, "-m", "cqrsw.container", "read-api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("configuration error: CQRSW_READ_API_PORT:")
