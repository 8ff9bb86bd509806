"""The scoring service on AzureML's inference server, for tests: see load/server.py."""

import contextlib
from pathlib import Path

from load.server import MODEL_DIR, SCRIPTS, serve

ENTRY_SCRIPT = SCRIPTS["ours"]

__all__ = ["ENTRY_SCRIPT", "MODEL_DIR", "local_server"]


@contextlib.contextmanager
def local_server(env: dict, entry_script=ENTRY_SCRIPT, model_dir=MODEL_DIR, workers=1):
    """Yield the base URL once GET / answers; RuntimeError with the log if the server exits."""
    with serve(Path(entry_script), Path(model_dir), env, workers) as (url, _pid):
        yield url
