"""AzureML's inference server (azmlinfsrv) on free loopback ports, as the images run it."""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
ENTRY_SCRIPT = ROOT / "scoring" / "score.py"
MODEL_DIR = ROOT / "model_artifacts"
# Settings of the calling shell that would change what the server does.
CLEARED = ("CHURN_SCORING_KEY", "CHURN_REQUIRE_KEY", "WORKER_COUNT", "WORKER_PRELOAD")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_server(env: dict, entry_script=ENTRY_SCRIPT, model_dir=MODEL_DIR, workers=1):
    """Yield the base URL once GET / answers; RuntimeError with the log if the server exits."""
    port, health_port = free_port(), free_port()
    environment = {k: v for k, v in os.environ.items() if k not in CLEARED}
    environment |= {"AML_APP_ROOT": str(Path(entry_script).parent)} | env
    command = [
        sys.executable, "-m", "azureml_inference_server_http",
        "--entry_script", str(entry_script), "--model_dir", str(model_dir),
        "--port", str(port), "--health_port", str(health_port), "--worker_count", str(workers),
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"azmlinfsrv exited with {process.poll()}:\n{log.read()}")
                with contextlib.suppress(requests.RequestException):  # booting: refused or slow
                    if requests.get(url, timeout=5).status_code == 200:
                        break
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
