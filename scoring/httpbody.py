"""HTTP body handling: what a scoring request must look like before its body is read (POST,
JSON, not too large), and reading the body with a size cap and a time limit.
"""

from contract import RequestError

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
    """The body of a scoring request (a werkzeug Request); else a RequestError."""
    if request.method != "POST":
        raise RequestError(405, "send the rows with POST")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise RequestError(413, f"the body exceeds {MAX_BODY_BYTES} bytes")
    if not request.is_json:
        raise RequestError(415, "send the body as Content-Type: application/json")
    client = request.environ.get("gunicorn.socket")
    if client is not None:
        client.settimeout(BODY_TIMEOUT_S)
    try:
        return read_body(request.stream)
    except OSError:  # TimeoutError from the socket
        raise RequestError(408, f"the body did not arrive within {BODY_TIMEOUT_S} s") from None
    except ParseException as ex:  # a bad chunk size, extension or terminator
        raise RequestError(400, f"the body's chunked framing is invalid: {ex}") from None


def read_body(stream) -> bytes:
    """At most MAX_BODY_BYTES of the body; 413 beyond that, without reading the rest."""
    chunks, size = [], 0
    while chunk := stream.read(MAX_BODY_BYTES + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, f"the body exceeds {MAX_BODY_BYTES} bytes")
    return b"".join(chunks)
