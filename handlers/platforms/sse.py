"""Server-sent events: one response carrying a page's updates as they happen (docs/streaming.md).

Under gunicorn's threads each open stream holds a thread, so they are bounded: a few per process at once (past that
the page polls), each for a few minutes (then the browser reconnects), with a comment line whenever it is quiet, well
within the 55 seconds of silence after which Heroku's router drops a response.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator

from flask import Response

HEARTBEAT_SECONDS = 15.0
RETRY_MS = 2000  # how soon the browser reconnects once a stream ends

Update = tuple[str, str] | None  # (event id, JSON data), or None: nothing new within the wait


class Streams:
    """This process's open streams: at most `limit` at once, each ended after `seconds`."""

    def __init__(self, limit: int, seconds: float, heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.seconds, self.heartbeat = seconds, heartbeat
        self._slots = threading.BoundedSemaphore(limit) if limit else None

    def response(self, updates: Iterator[Update]) -> Response | None:
        """A text/event-stream of `updates` (each step waits a second at most), or None when `limit` are open already."""
        if self._slots is None or not self._slots.acquire(blocking=False):
            return None
        response = Response(self._events(updates), mimetype="text/event-stream",
                            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        response.call_on_close(self._slots.release)  # also when the browser leaves: its next write fails, and closes it
        return response

    def _events(self, updates: Iterator[Update]) -> Iterator[str]:
        yield f"retry: {RETRY_MS}\n\n"  # a first byte at once: Heroku's router wants one within 30 seconds
        quiet_since = time.monotonic()
        end = quiet_since + self.seconds
        for update in updates:
            now = time.monotonic()
            if now >= end:
                return
            if update is not None:
                yield f"id: {update[0]}\ndata: {update[1]}\n\n"
            elif now - quiet_since >= self.heartbeat:
                yield ": ping\n\n"  # a comment: EventSource ignores it, the router sees bytes
            else:
                continue
            quiet_since = now
