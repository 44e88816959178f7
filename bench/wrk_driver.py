"""Drive an HTTP endpoint with wrk (Debian's package, installed when missing) and read its figures.

Requests are spread over many users: a Lua script picks, per request, one of the given
(path, bearer token) pairs at random, and reports the count, duration, p50, p99 and errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers, refused or timed-out connections

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def ensure_wrk() -> str:
    """The wrk binary; as root with apt-get, installs Debian's ``wrk`` when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    install = ["apt-get", "install", "-y", "--no-install-recommends", "wrk"]
    if subprocess.run(install, check=False, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], check=True, capture_output=True)
        subprocess.run(install, check=True, capture_output=True)
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is missing and could not be installed: apt-get install -y wrk")
    return found


SCRIPT = """
local targets = %s
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  math.randomseed(seed * 7919)
end
function request()
  local t = targets[math.random(#targets)]
  return wrk.format("GET", t[1], {["Authorization"] = "Bearer " .. t[2]})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


def lua_targets(targets: list[tuple[str, str]]) -> str:
    """A Lua table literal of (path, token); JSON strings are valid Lua strings for these."""
    return "{" + ",".join(f"{{{json.dumps(p)},{json.dumps(t)}}}" for p, t in targets) + "}"


def drive(
    url: str, targets: list[tuple[str, str]], *, connections: int, seconds: int, threads: int
) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(SCRIPT % lua_targets(targets))
    try:
        out = subprocess.run(
            [
                ensure_wrk(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                "--timeout", "10s", "-s", script.name, url,
            ],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        Path(script.name).unlink()
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    requests, micros, p50, p99, errors = (int(v) for v in line.split()[1:])
    return WrkResult(requests, micros / 1e6, p50 / 1000, p99 / 1000, errors)
