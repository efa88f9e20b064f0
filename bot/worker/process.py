"""The worker process that runs turns, and the sweeper that restarts turns whose worker died."""

from __future__ import annotations

import logging
import platform
import random
import threading
import time

from redis.exceptions import RedisError
from rq import Queue

from bot import runtime
from bot.intake import Recovered
from bot.ops import series
from bot.outbound import triggers
from bot.outbound.business import route
from bot.runtime import Runtime
from bot.turn import job
from bot.worker.slots import Pool

logger = logging.getLogger(__name__)

SETTLE_EVERY = 60.0  # seconds between looks for business events whose job died on its last try

RECOVERED = {
    Recovered.RESUMED: "turn resumed: its worker stopped renewing the lease (it died, or stalled past LEASE_SECONDS)",
    Recovered.STARTED: "turn started for waiting messages whose job was lost (a queue emptied by hand, say)",
}


class Sweeper(threading.Thread):
    """Starts a new turn for every conversation whose worker died mid-turn or before starting it, fires the
    recurring triggers that are due, samples the queue for the console's charts, and gives a business event whose job
    died on its last try its outcome.

    A dead worker's lease lapses, but nothing else would wake its conversation: the user may
    never write again. Every worker sweeps; the recovery script makes sure only one turn starts.
    """

    def __init__(self, rt: Runtime, interval: float) -> None:
        super().__init__(name="sweeper", daemon=True)
        self.rt = rt
        self.turns = rt.turns
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        settle_at = 0.0
        while not self.stopped.wait(self.interval * random.uniform(0.8, 1.2)):  # jitter: workers do not sweep in step
            try:
                self.sweep()
                triggers.run_due(self.rt)
                series.sample(self.rt)
                if time.monotonic() >= settle_at:  # RQ finds abandoned jobs every few minutes: a look a minute will do
                    route.settle_abandoned(self.rt)
                    settle_at = time.monotonic() + SETTLE_EVERY
            except RedisError as error:
                logger.warning("sweep skipped, Redis unavailable: %s", type(error).__name__)
            except ValueError as error:  # a broken triggers file: `flask prompts check` says the same
                logger.error("triggers not run: %s", error)

    def sweep(self) -> int:
        """Recover every overdue conversation; returns how many got a new turn."""
        recovered = [(conversation, self.turns.recover(conversation)) for conversation in self.turns.overdue()]
        for conversation, what in recovered:
            if what:
                logger.warning(RECOVERED[what], extra={"conversation": conversation})
        return sum(1 for _, what in recovered if what)


def work(rt: Runtime, burst: bool = False) -> None:
    """Install the runtime and run turn jobs, WORKER_CONCURRENCY at once, until stopped (or, with `burst`,
    until the queues are empty)."""
    runtime.install(rt)
    # The openai SDK names the platform in its first request's headers, and Python reads it from `uname -p`, a
    # subprocess. Should RQ fork its scheduler while that subprocess's pipe is open, the scheduler holds the pipe and the
    # turn waits on it as long as the scheduler lives. Read it now, before any slot starts: Python keeps it.
    platform.platform()
    sweeper = Sweeper(rt, max(1.0, rt.config.lease_seconds / 4))
    if not burst:
        sweeper.start()
    queues = [Queue(rt.config.queue_name, connection=rt.redis), rt.turns.events]  # turns first: events can wait
    pool = Pool(queues, rt.config.worker_concurrency, rt.config.shutdown_grace, lambda: job.hand_back_running(rt))
    try:
        # RQ's own lines for each job (started, OK, result kept) repeat the "turn done" line: its warnings only
        pool.run(burst, "DEBUG" if rt.config.log_level == "DEBUG" else "WARNING")
    finally:
        sweeper.stopped.set()
        rt.metrics.flush()
