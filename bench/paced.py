"""An open-loop load generator: POSTs at a fixed rate, each latency measured from when the request was due.

Stock wrk sends the next request only when the previous one is answered, so a slow server gets
fewer requests and its stalls vanish from the figures (coordinated omission). Here each connection
keeps its own schedule, as wrk2 does: a request that leaves late because the one before was slow
counts its wait, so p99 is what a platform sending at this rate would see.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Target:
    """Where to POST and what: `body()` is called once per request (a webhook needs a new id each time)."""

    port: int
    path: str
    headers: dict[str, str]
    body: Callable[[], bytes]


@dataclass
class Paced:
    """What one paced run saw: (status, latency in seconds) per request, status 0 for no answer."""

    rate: float
    seconds: float
    answers: list[tuple[int, float]] = field(default_factory=list)  # list.append is atomic: threads share it

    @property
    def statuses(self) -> Counter:
        """How many requests got each status."""
        return Counter(status for status, _ in self.answers)

    @property
    def latencies(self) -> list[float]:
        """The latencies of the requests that got an answer."""
        return [latency for status, latency in self.answers if status]

    @property
    def achieved(self) -> float:
        """Requests answered per second: below `rate` means the generator or the server fell behind."""
        return len(self.latencies) / self.seconds


def run(target: Target, rate: float, seconds: float, connections: int = 16) -> Paced:
    """POST to `target` at `rate` per second for `seconds`, spread over `connections` keep-alive connections."""
    result = Paced(rate, seconds)
    start = time.monotonic() + 0.1  # every thread exists before the first request is due
    threads = [threading.Thread(target=_connection, args=(target, result, start + i / rate, connections / rate, start + seconds),
                                daemon=True)  # a stopped bench does not wait for them
               for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def _connection(target: Target, result: Paced, due: float, interval: float, end: float) -> None:
    """One connection's schedule: a request every `interval` seconds from `due` until `end`."""
    connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
    while due < end:
        time.sleep(max(0.0, due - time.monotonic()))
        status = _post(connection, target.path, target.body(), target.headers)
        result.answers.append((status, time.monotonic() - due))  # from when it was due, not when it left
        due += interval
    connection.close()


def _post(connection: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]) -> int:
    """The response's status, 0 if there was none (the connection is then reopened by the next request)."""
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        connection.close()
        return 0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`, nearest rank."""
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, max(0, round(q / 100 * len(ranked)) - 1))] if ranked else float("nan")
