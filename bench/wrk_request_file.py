"""wrk over a request list too long for bench/wrk_driver.py's Lua literal, read from a file.

LuaJIT refuses a chunk with more than 65,536 constants ("main function has more than 65536
constants") and wrk then goes on with its default request, so a list of 200,000 requests
with their own tokens cannot be a table literal. Here each wrk thread reads the list
(``path<TAB>token`` per line) when it starts, picks a line at random per request and
reports as bench/wrk_driver.py's script does; a script error fails the run.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from bench.wrk_driver import WrkResult, ensure_wrk

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


def drive_list(
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
