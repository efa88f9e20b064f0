"""The real processes the tests start: a redis-server, and worker processes' groups, stopped whole."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

import redis as redis_lib

from bot.worker.local import free_port, redis_server_binary


class RedisServer:
    """A real redis-server on a free loopback port; `persistent` keeps an append-only file, so it survives `restart`."""

    def __init__(self, workdir: Path, persistent: bool = False) -> None:
        port = free_port()
        durability = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else []
        self.command = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
                        "--save", "", *durability]
        self.client = redis_lib.Redis(port=port)
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = self._start()

    def _start(self) -> subprocess.Popen:
        process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL)
        for _ in range(200):
            try:
                self.client.ping()
                return process
            except redis_lib.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def restart(self) -> None:
        self.stop()
        self.process = self._start()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def stop_group(process: subprocess.Popen, sig: int) -> None:
    """Signal a worker and its children (the RQ scheduler it forks)."""
    with contextlib.suppress(ProcessLookupError):  # it ended already
        os.killpg(process.pid, sig)
