"""Drive an HTTP endpoint with wrk (Debian's package, installed when missing) and read its figures.

Requests are spread over many users: each wrk thread reads the given (path, bearer token)
pairs from a file when it starts (``path<TAB>token`` per line), picks one at random per
request, and reports the count, duration, p50, p99 and errors. A file rather than a Lua
table literal: LuaJIT refuses a chunk of more than 65,536 constants, and wrk then goes on
with its default request, so a long list of users with their own tokens cannot be a literal.
A script error fails the run.
"""

from __future__ import annotations

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
local targets = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  for line in io.lines(args[1]) do
    local tab = string.find(line, "\\t", 1, true)
    targets[#targets + 1] = {string.sub(line, 1, tab - 1), string.sub(line, tab + 1)}
  end
  math.randomseed(seed * 7919)
end
function request()
  local t = targets[math.random(#targets)]
  return wrk.format("GET", t[1], {["Authorization"] = "Bearer " .. t[2]})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


def drive(
    url: str, targets: list[tuple[str, str]], *, connections: int, seconds: int, threads: int
) -> WrkResult:
    """Drive ``url`` with requests picked at random among ``targets`` (path, bearer token)."""
    with tempfile.TemporaryDirectory(prefix="cqrsw-wrk-") as folder:
        script, listed = Path(folder, "requests.lua"), Path(folder, "requests.tsv")
        script.write_text(SCRIPT)
        listed.write_text("".join(f"{path}\t{token}\n" for path, token in targets))
        run = subprocess.run(
            [
                ensure_wrk(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                "--timeout", "10s", "-s", str(script), url, "--", str(listed),
            ],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    if run.stderr.strip():
        raise RuntimeError(f"wrk: {run.stderr.strip()[:500]}")
    line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {run.stdout[-500:]}")
    requests, micros, p50, p99, errors = (int(v) for v in line.split()[1:])
    return WrkResult(requests, micros / 1e6, p50 / 1000, p99 / 1000, errors)
