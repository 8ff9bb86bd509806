"""Closed-loop HTTP clients for the benchmarks: each thread posts the same body, one request at a
time on a fresh connection, until the time is up."""

import http.client
import threading
import time
from urllib.parse import urlsplit


def post_for(
    url: str, body: bytes, headers: dict, seconds: float, clients: int
) -> tuple[list[float], int, float]:
    """(latencies of the 200 answers in seconds, other answers and errors, elapsed seconds)."""
    target = urlsplit(url)
    latencies: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < stop:
            start = time.perf_counter()
            try:
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                connection.request("POST", target.path, body, headers)
                response = connection.getresponse()
                response.read()
                connection.close()
                ok = response.status == 200
            except OSError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors[0], time.monotonic() - began
