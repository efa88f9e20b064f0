"""The RQ worker that runs turns: SIGTERM lets the running turn finish (Heroku allows 30 s)."""

from __future__ import annotations

from rq import Queue
from rq.worker import HerokuWorker

# Imported here, before RQ forks a work horse per job, so no job pays for the import.
import bot.turns  # noqa: E402,F401
from bot import runtime
from bot.runtime import Runtime


def work(rt: Runtime, burst: bool = False) -> None:
    """Install the runtime and take turn jobs until stopped (or, with `burst`, until the queue is empty)."""
    runtime.install(rt)
    queue = Queue(rt.config.queue_name, connection=rt.redis)
    HerokuWorker([queue], connection=rt.redis).work(burst=burst, logging_level=rt.config.log_level)
