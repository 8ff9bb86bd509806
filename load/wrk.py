"""Drive wrk (C, epoll: a few percent of one core at these rates) with JSON POST bodies."""

import json
import resource
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
local bodies = {%(bodies)s}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n %% #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


# The service key the load run's servers require and its requests carry.
KEY = secrets.token_urlsafe(24)


@dataclass
class Result:
    requests: int
    seconds: float
    errors: int  # socket errors (connect, read, write), timeouts and non-2xx answers
    p50_ms: float
    p95_ms: float
    p99_ms: float
    client_cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("make load needs wrk on PATH (Debian/Ubuntu: apt-get install wrk)")
    return path


def run(url, bodies, connections, seconds, cpus=None) -> Result:
    """Send the bodies in turn over `connections` connections for `seconds` seconds."""
    lua_bodies = ", ".join(f"[==[{json.dumps(body)}]==]" for body in bodies)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_LUA % {"bodies": lua_bodies, "key": KEY})
        script.flush()
        command = [require_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
        command += ["-s", script.name, url]
        if cpus is not None:
            command = ["taskset", "-c", cpus, *command]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    count, micros, *errors, p50, p95, p99 = (int(field) for field in line.split()[1:])
    used = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Result(count, micros / 1e6, sum(errors), p50 / 1e3, p95 / 1e3, p99 / 1e3, used)
