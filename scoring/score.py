"""Entry script of the churn scoring service, run by the AzureML inference server (azmlinfsrv).

init() verifies the artifacts under AZUREML_MODEL_DIR and builds the fast path from them
(artifacts.py, fastpath.py, trees.py, kernel.py), reads the service key (keycheck.py) and starts
the capture of scored rows (capture.py). run() takes the original request,
{"data": [[CreditScore, Geography, ...], ...]} (rows may also be objects keyed by column name),
and returns what the original returned: the JSON text of [[p_stay, p_leave], ...].
Bad requests get a 4xx JSON body naming the row, the column and what was expected (contract.py,
httpbody.py); nothing a client sends can cause a 500.

The modules beside this script are imported by their plain names: azmlinfsrv loads this file by
path, and AzureML, the image and `make serve` all ship the whole folder.
"""

import gc
import os
import sys

from azureml_inference_server_http.api.aml_request import rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # whatever each target sets AML_APP_ROOT to
    sys.path.append(HERE)

import artifacts  # noqa: F401  (each module, for tests: score.contract, ...)
import capture
import contract  # noqa: F401
import fastpath  # noqa: F401
import httpbody  # noqa: F401
import kernel  # noqa: F401
import keycheck  # noqa: F401
import trees  # noqa: F401

# The names tools use, from the module that owns each.
from artifacts import (
    CLASSIFIER_FILE,
    MANIFEST_FILE,
    MODULES,
    PIPELINE_FILE,
    TOLERANCE,
    StartupError,
    load,
    log,
    probe_rows,
    refuse,
)
from contract import CONTRACT, MAX_ROWS, SAMPLE_ROW, Column, RequestError
from fastpath import Scorer, answer
from httpbody import BODY_TIMEOUT_S, HEADERS, MAX_BODY_BYTES, body_of
from keycheck import KEY_ENV, REQUIRE_ENV, authorized, read_key

__all__ = [
    "BODY_TIMEOUT_S", "CLASSIFIER_FILE", "CONTRACT", "KEY_ENV", "MANIFEST_FILE", "MAX_BODY_BYTES",
    "MAX_ROWS", "MODULES", "PIPELINE_FILE", "REQUIRE_ENV", "SAMPLE_ROW", "TOLERANCE", "Column",
    "RequestError", "Scorer", "StartupError", "init", "load", "probe_rows", "read_key", "run",
]  # fmt: skip

GC_ALLOCATIONS = 20_000
_scorer: Scorer
_key: bytes | None = None


def init() -> None:
    global _scorer, _key
    _key = read_key()
    _scorer, manifest = load(os.environ.get("AZUREML_MODEL_DIR"))
    try:  # what is scored is recorded off the request path (capture.py), if configured
        capture.start(manifest)
    except capture.CaptureError as ex:
        raise refuse(str(ex)) from None
    # What init() built (the model, numpy, scikit-learn, XGBoost) lives as long as the worker:
    # frozen, the collector no longer walks it on each collection a request's allocations start.
    gc.collect()
    gc.freeze()
    # A request's objects die with it and hold no cycles. Collecting every 700 allocations
    # walks a large body's rows several times while they are alive (0.2 ms of 1000 rows);
    # every GC_ALLOCATIONS, rarely more than once a request.
    gc.set_threshold(GC_ALLOCATIONS, *gc.get_threshold()[1:])


@rawhttp
def run(request):
    """Score a request: the JSON text of [[p_stay, p_leave], ...], or a 4xx AMLResponse."""
    try:
        # the header as the server put it in the environ (what request.headers reads)
        header = request.environ.get("HTTP_AUTHORIZATION")
        if _key is not None and not authorized(header, _key):
            raise RequestError(401, "send the service key as 'Authorization: Bearer <key>'")
        body = body_of(request)
        columns = _scorer.contract.read(body)
    except RequestError as ex:
        if ex.status != 401:
            log.info("rejected a request with %d: %s", ex.status, ex)
        return AMLResponse(ex.body, ex.status, HEADERS.get(ex.status, {}), json_str=True)
    text = answer(_scorer.scores(columns))
    capture.record(body, text)  # never raises, never waits
    return text
