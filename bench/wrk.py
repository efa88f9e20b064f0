"""wrk, the closed-loop HTTP load generator, run with a Lua script that ends by printing one RESULT line.

The script's `done()` writes `RESULT {json}` with the fields of `Saturation` (see bench/ingest.lua):
wrk's own summary does not say how many requests were sent, nor which statuses came back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Saturation:
    """One wrk run: requests sent, answered 200, other statuses, socket errors, and its latencies."""

    sent: int
    ok: int
    other: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        """Requests answered per second."""
        return (self.ok + self.other) / self.seconds


def binary() -> str:
    """The wrk on PATH; without one, exit saying how to install it."""
    return shutil.which("wrk") or sys.exit("This bench needs wrk: apt-get install wrk (Debian, Ubuntu) or brew install wrk.")


def run(url: str, seconds: int, threads: int, connections: int, script: Path, args: list[str]) -> Saturation:
    """wrk against `url` for `seconds`, the script given `args`; returns what its RESULT line says."""
    command = [binary(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url,
               "--", *args]
    finished = subprocess.run(command, capture_output=True, text=True)
    line = next((line for line in finished.stdout.splitlines() if line.startswith("RESULT ")), None)
    if finished.returncode or line is None:
        raise SystemExit(f"wrk failed ({finished.returncode}): {finished.stderr or finished.stdout}")
    return Saturation(**json.loads(line.removeprefix("RESULT ")))
