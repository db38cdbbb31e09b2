"""Driving wrk: the paths of a list in order, results as JSON, pinned to its own core."""

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

# wrk's Lua: walk the list of paths in order, starting over at its end (the list itself is the
# mix: every link once per cycle, or a Zipf sample), and print the summary as JSON.
_SCRIPT = """
local paths = {}
local next_path = 0
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
end
request = function()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end
done = function(summary, latency, requests)
  io.write(string.format(
    'JSON{"requests":%d,"duration_us":%d,"errors":%d,"non_2xx_3xx":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
"""


@dataclass(frozen=True, slots=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    errors: int
    bad_status: int


def run(
    url: str, *, paths: Path, connections: int, seconds: float, core: int, workdir: Path
) -> Load:
    """Load `url` with wrk (one thread on `core`) for `seconds`, each request a random path."""
    script = workdir / "paths.lua"
    script.write_text(_SCRIPT)
    result = subprocess.run(
        [
            "taskset",
            "-c",
            str(core),
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            url,
            "--",
            str(paths),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("JSON"))
    data = json.loads(line[4:])
    seconds_measured = data["duration_us"] / 1e6
    return Load(
        requests_per_second=round(data["requests"] / seconds_measured, 1),
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        p999_ms=data["p999_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=data["errors"],
        bad_status=data["non_2xx_3xx"],
    )
