"""Slowloris: /healthz latency while connections trickle their headers into the Procfile's web server, unbuffered.

    .venv/bin/python -m bench.slowloris                          # 0, 8, 15, 16, 24, 40 connections, 10 s each: ~90 s
    .venv/bin/python -m bench.slowloris --levels 0,40 --seconds 5

Only 127.0.0.1: a throwaway Redis and the Procfile's `web` command (gunicorn.conf.py; WEB_CONCURRENCY processes of 8
threads). At each level that many connections send a request line, then one header byte every --interval seconds and
never the blank line that ends the headers, as a slowloris client does. Meanwhile a probe GETs /healthz on a fresh
connection every half second, each waiting at most --probe-timeout. Per level: the probes answered, those that timed
out, and the answered ones' median and slowest latency. Bounded: at most 200 connections, --seconds per level.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field

from bench.servers import PROCFILE_APP, redis_server, web_server

MAX_CONNECTIONS = 200
PROBE_EVERY = 0.5  # seconds between probes
SETTLE = 2.0  # seconds after the trickling connections close, for the threads they held to come free


@dataclass
class Level:
    """What the probes saw while `connections` trickled: each answered probe's latency, and how many timed out."""

    connections: int
    latencies: list[float] = field(default_factory=list)
    timeouts: int = 0

    def row(self) -> str:
        """One line of the table."""
        answered = sorted(self.latencies)
        median = f"{statistics.median(answered) * 1000:.1f}" if answered else "-"
        slowest = f"{answered[-1] * 1000:.1f}" if answered else "-"
        return f"{self.connections:>11}  {len(answered):>8}  {self.timeouts:>9}  {median:>9}  {slowest:>10}"


def trickle(port: int, count: int, interval: float, stop: threading.Event) -> None:
    """Open `count` connections that send a request line, then a header byte every `interval` seconds, until `stop`."""
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    for sock in sockets:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    while not stop.wait(interval):
        for sock in sockets:
            sock.sendall(b"x")
    for sock in sockets:
        sock.close()


def probe(port: int, timeout: float) -> float | None:
    """The latency of one GET /healthz on a new connection, or None if it got no answer within `timeout`."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        return time.monotonic() - started
    except OSError:  # socket.timeout among them
        return None
    finally:
        connection.close()


def measure(port: int, connections: int, args: argparse.Namespace) -> Level:
    """Probe /healthz for `args.seconds` while `connections` trickle."""
    level, stop = Level(connections), threading.Event()
    slow = threading.Thread(target=trickle, args=(port, connections, args.interval, stop), daemon=True)
    slow.start()
    time.sleep(args.interval)  # every trickling connection has sent its first bytes
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        latency = probe(port, args.probe_timeout)
        if latency is None:
            level.timeouts += 1
        else:
            level.latencies.append(latency)
            time.sleep(max(0.0, PROBE_EVERY - latency))
    stop.set()
    slow.join()
    time.sleep(SETTLE)
    return level


def main() -> None:
    """Run every level against one web server and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="0,8,15,16,24,40", help="comma-separated counts of trickling connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="probing time per level")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between a trickling connection's bytes")
    parser.add_argument("--probe-timeout", type=float, default=5.0, help="seconds a probe waits for its answer")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    if not all(0 <= level <= MAX_CONNECTIONS for level in levels):
        sys.exit(f"each level must be 0 to {MAX_CONNECTIONS} connections")
    with redis_server() as url, web_server(PROCFILE_APP, {"REDIS_URL": url}) as port:
        print("connections  answered  timed out  median ms  slowest ms")
        for connections in levels:
            print(measure(port, connections, args).row(), flush=True)


if __name__ == "__main__":
    main()
