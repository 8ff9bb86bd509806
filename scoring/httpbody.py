"""HTTP body handling: what a scoring request must look like before its body is read (POST,
JSON, not too large), and reading the body with a size cap and a time limit.
"""

from functools import lru_cache

from contract import RequestError
from werkzeug.http import parse_options_header
from werkzeug.wsgi import get_content_length

try:  # what gunicorn raises while reading a chunked body whose framing is wrong
    from gunicorn.http.errors import ParseException
except ImportError:  # no gunicorn (Windows runs waitress): nothing of that kind to catch

    class ParseException(Exception):
        pass


MAX_BODY_BYTES = 4 * 1024 * 1024
# A client that stops sending its body gets 408 instead of holding a worker until gunicorn
# kills it (WORKER_TIMEOUT), which would also answer it with an HTML 500.
BODY_TIMEOUT_S = 10
# Headers that go with a status: the scheme to use, the method to use.
HEADERS = {401: {"WWW-Authenticate": "Bearer"}, 405: {"Allow": "POST"}}


def body_of(request) -> bytes:
    """The body of a scoring request (a werkzeug Request); else a RequestError.

    The checks read the WSGI environ as werkzeug's own properties do (method, content_length,
    is_json), without the properties' machinery, which costs more than scoring a row."""
    environ = request.environ
    if environ.get("REQUEST_METHOD", "GET").upper() != "POST":
        raise RequestError(405, "send the rows with POST")
    length = get_content_length(environ)  # None when chunked
    if (length or 0) > MAX_BODY_BYTES:
        raise RequestError(413, f"the body exceeds {MAX_BODY_BYTES} bytes")
    if not is_json(environ.get("CONTENT_TYPE", "")):
        raise RequestError(415, "send the body as Content-Type: application/json")
    client = environ.get("gunicorn.socket")
    if client is not None:
        client.settimeout(BODY_TIMEOUT_S)
    try:
        # A server that ends the input at the body's end says so (gunicorn does); otherwise
        # werkzeug's stream ends it there, as werkzeug's own get_input_stream decides.
        terminated = environ.get("wsgi.input_terminated")
        return read_body(environ["wsgi.input"] if terminated else request.stream, length)
    except OSError:  # TimeoutError from the socket
        raise RequestError(408, f"the body did not arrive within {BODY_TIMEOUT_S} s") from None
    except ParseException as ex:  # a bad chunk size, extension or terminator
        raise RequestError(400, f"the body's chunked framing is invalid: {ex}") from None


@lru_cache(maxsize=64)  # clients send few distinct Content-Type values
def is_json(content_type: str) -> bool:
    """werkzeug's Request.is_json: application/json or application/*+json, parameters aside."""
    mimetype = parse_options_header(content_type)[0].lower()
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def read_body(stream, length: int | None = None) -> bytes:
    """The body: its Content-Length's worth (length), or up to its end; 413 beyond
    MAX_BODY_BYTES, without reading the rest."""
    chunks, size, wanted = [], 0, MAX_BODY_BYTES + 1 if length is None else length
    while size < wanted and (chunk := stream.read(wanted - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, f"the body exceeds {MAX_BODY_BYTES} bytes")
    return b"".join(chunks)
