"""Every command the docs mark as runnable runs as printed, against `make serve` on a free port.

The marker is an HTML comment on the line before a fenced block: `<!-- run -->` runs the block
with bash from the repository root (it must exit 0); `<!-- output -->` before the next fenced
block lists lines its output (stdout and stderr) must contain. Blocks run with a bare system PATH (no uv on it) and
without CHURN_SCORING_KEY, as on a fresh machine after `make setup`; the printed port 5001 is
replaced by the test server's.
"""

import os
import re
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from load.server import free_port

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
PRINTED_PORT = "5001"
FRESH_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str
    output: list[str]


def runnable_blocks(text: str, page: str) -> list[Block]:
    blocks = []
    fences = list(FENCE.finditer(text))
    for i, fence in enumerate(fences):
        before = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        if before != "<!-- run -->":
            continue
        output: list[str] = []
        if i + 1 < len(fences):
            following = fences[i + 1]
            between = text[fence.end() : following.start()].strip()
            if between.endswith("<!-- output -->") and between.count("\n") <= 1:
                output = [line.strip() for line in following.group(1).splitlines() if line.strip()]
        line = text.count("\n", 0, fence.start()) + 1
        blocks.append(Block(page, line, fence.group(1), output))
    return blocks


ALL = [b for page in PAGES for b in runnable_blocks(page.read_text(), page.name)]


def test_the_marker_is_found_and_read():
    text = "a\n<!-- run -->\n```sh\necho hi\n```\n<!-- output -->\n```\nhi\n```\n```sh\nno\n```\n"
    assert runnable_blocks(text, "x.md") == [Block("x.md", 3, "echo hi\n", ["hi"])]
    pages = {b.page for b in ALL}
    assert {"README.md", "client.md", "scoring.md"} <= pages, pages


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    """`make serve` itself, on a free port, stopped (its whole process group) at the end."""
    port = str(free_port())
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")}
    with log.open("wb") as out:
        server = subprocess.Popen(
            ["make", "--no-print-directory", "serve", f"PORT={port}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).close()
                break
            except OSError:
                time.sleep(0.3)
        yield port, log
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_make_serve_listens_on_loopback_and_starts_without_a_traceback(port):
    number, log = port
    text = log.read_text()
    assert f"Listening at: http://127.0.0.1:{number} " in text
    assert "Traceback" not in text and " E [" not in text, text


@pytest.mark.parametrize("block", ALL, ids=[f"{b.page}:{b.line}" for b in ALL])
def test_runnable_block_runs_as_printed(block, port):
    number, _ = port
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "VIRTUAL_ENV"))}
    env |= {"PATH": FRESH_PATH, "PORT": number}
    code = block.code.replace(f":{PRINTED_PORT}", f":{number}")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    where = f"{block.page} line {block.line}"
    assert done.returncode == 0, f"{where}:\n{done.stdout}"
    for line in block.output:
        assert line in done.stdout, f"{where}: {line!r} not in\n{done.stdout}"
