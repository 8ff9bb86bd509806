"""AzureML's inference server (azmlinfsrv) on loopback for tests, benchmarks and load runs."""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "model_artifacts"
# The entry scripts compared: the original tutorial's (the baseline) and ours.
SCRIPTS = {"original": ROOT / "bench" / "original_score.py", "ours": ROOT / "scoring" / "score.py"}

# Settings of the calling shell that would change what the server does; callers set their own.
CLEARED_ENV = ("CHURN_SCORING_KEY", "CHURN_REQUIRE_KEY", "WORKER_COUNT", "WORKER_PRELOAD")
CLEARED_ENV += ("WORKER_TIMEOUT",)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found


def process_tree(pid: int) -> list[int]:
    """The gunicorn master and every process below it."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        with contextlib.suppress(OSError):
            todo += _children(current)
    return tree


def rss_mib(pid: int) -> float:
    """Resident memory summed over the server's processes (shared pages count once per process)."""
    total_kib = 0
    for proc in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
    return total_kib / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by the server's processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for proc in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"azmlinfsrv exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):  # booting: refused or slow
            time.sleep(0.2)
    raise RuntimeError(f"azmlinfsrv not ready after {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def start(entry_script: Path, model_dir: Path, env: dict, log: Path, workers: int = 1, cpus=None):
    """Start azmlinfsrv on 127.0.0.1 with free ports, as the images run it; return (process, base
    URL) without waiting. `env` holds the entry script's settings (the key, or
    CHURN_REQUIRE_KEY=false); `cpus` restricts the server to a CPU list with taskset ("0")."""
    port, health_port = free_port(), free_port()
    server_env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    server_env |= {"AML_APP_ROOT": str(Path(entry_script).parent), "WORKER_COUNT": str(workers)}
    server_env |= env
    command = [
        sys.executable, "-m", "load.loopback", "127.0.0.1",
        "--entry_script", str(entry_script),
        "--model_dir", str(model_dir),
        "--port", str(port),
        "--health_port", str(health_port),
    ]  # fmt: skip
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=server_env, stdout=out, stderr=subprocess.STDOUT
        )
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def serve(entry_script: Path, model_dir: Path, env: dict, workers: int = 1, cpus=None):
    """start() and wait until GET / answers; yield (base URL, master pid); stop() at the end.

    RuntimeError with the log's tail if the server exits or is not ready in time.
    """
    with tempfile.TemporaryDirectory(prefix="churn-server-") as tmp:
        log = Path(tmp) / "server.log"
        process, base = start(entry_script, model_dir, env, log, workers, cpus)
        try:
            _wait_ready(process, f"{base}/", log, timeout_s=120)
            yield base, process.pid
        finally:
            stop(process)
