"""The dev topology on this machine: Caddy with proxy/Caddyfile on 127.0.0.1:PORT in front of
azmlinfsrv on UPSTREAM_PORT, plain HTTP. Both stop together (Ctrl-C, or either one exiting).

    python -m proxy [--port 5001] [--upstream-port 5002]

The scoring server reads its settings (AML_APP_ROOT, CHURN_SCORING_KEY...) from the environment,
as with `make serve`.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from proxy.caddy import CADDYFILE, binary

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--upstream-port", type=int, default=5002)
    args = parser.parse_args()
    if args.port == args.upstream_port:
        parser.error("--port and --upstream-port must differ")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "load.loopback", "127.0.0.1",
            "--entry_script", "scoring/score.py",
            "--model_dir", "model_artifacts",
            "--port", str(args.upstream_port),
        ],
        cwd=ROOT,
    )  # fmt: skip
    settings = {"PROXY_SITE": f"http://:{args.port}", "UPSTREAM": f"127.0.0.1:{args.upstream_port}"}
    caddy = subprocess.Popen(
        [binary(), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=os.environ | settings,
    )
    try:
        while server.poll() is None and caddy.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in (caddy, server):
            process.terminate()
        for process in (caddy, server):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return server.returncode or caddy.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
