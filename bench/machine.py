"""The machine a bench ran on, and how much of it other processes took meanwhile.

On a shared machine (CI, several sessions at once) other processes' CPU use lowers the figures and
spreads the tail: a report that says so can be read; one that doesn't misleads.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from pathlib import Path

STAT = Path("/proc/stat")


def describe(load: bool = False) -> str:
    """CPUs, their model, Python and the OS (and with `load`, the load average): the figures mean little without them."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.machine())
    text = f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    return text + (f", load average {' '.join(f'{value:.1f}' for value in os.getloadavg())}" if load else "")


class OtherLoad:
    """A block's CPU time used by processes outside this one and its children, as a share of the machine.

    Children count once waited for: leave the block after stopping the servers it started.
    """

    def __enter__(self) -> OtherLoad:
        self.start = (time.monotonic(), machine_busy(), _ours())
        return self

    def __exit__(self, *_) -> None:
        self.end = (time.monotonic(), machine_busy(), _ours())

    def share(self) -> float | None:
        """Other processes' CPU time over the machine's (elapsed x CPUs); None where /proc/stat is missing."""
        (t0, busy0, ours0), (t1, busy1, ours1) = self.start, self.end
        if busy0 is None or busy1 is None:
            return None
        return max(0.0, (busy1 - busy0) - (ours1 - ours0)) / ((t1 - t0) * (os.cpu_count() or 1))


def machine_busy() -> float | None:
    """Seconds of CPU every process has used since boot (user, nice, system, irq, softirq, steal); None without /proc."""
    if not STAT.exists():
        return None
    ticks = [int(value) for value in STAT.read_text().split("\n", 1)[0].split()[1:]]
    return sum(ticks[i] for i in (0, 1, 2, 5, 6, 7)) / os.sysconf("SC_CLK_TCK")


def _ours() -> float:
    """Seconds of CPU used by this process and its waited-for children (and theirs: gunicorn's workers)."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)
