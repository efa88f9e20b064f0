"""Many turns at once in one worker process: each slot is a full RQ worker (registration, heartbeats,
job bookkeeping, timeouts, failure handling) running on a thread of its own.

Turns spend nearly all their time waiting on the LLM and the platform, so threads hold many of them
in flight for a few MB each, where a forked work horse per job costs a process and a fork per turn.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import threading
import time
from typing import Any, Callable

from rq import Queue, SimpleWorker
from rq.exceptions import ShutDownImminentException
from rq.timeouts import TimerDeathPenalty
from rq.worker import WorkerStatus

logger = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1  # an idle slot waits on the queue this long at a time: how soon it notices a shutdown
STRAGGLER_SECONDS = 3  # after the grace, how long a turn may take to hand itself back before the process does it


class ShuttingDown(ShutDownImminentException):
    """Raised inside a turn still running when the grace after SIGTERM is over: the turn hands itself back."""

    def __init__(self) -> None:  # raised by class, with no arguments (PyThreadState_SetAsyncExc)
        super().__init__("worker shutting down", {})


class Slot(SimpleWorker):
    """An RQ worker that runs its jobs on its own thread, alongside its process's other slots."""

    death_penalty_class = TimerDeathPenalty  # the SIGALRM one works only on the main thread

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        """RQ's dequeue, in short waits, so that an idle slot sees a stop (RQ's would interrupt it with a signal)."""
        while not self._stop_requested:
            result = super().dequeue_job_and_maintain_ttl(timeout, IDLE_POLL_SECONDS)
            if result is not None or timeout is None:  # a job, or burst mode's single look at the queues
                return result
        return None

    def _install_signal_handlers(self) -> None:
        """Signals reach the main thread only: the Pool handles them for every slot."""

    def subscribe(self) -> None:
        """No pubsub channel (and its connection and thread) per slot: stop workers with SIGTERM, not `rq` commands."""

    def stop(self) -> None:
        """Take no new job; a running one finishes (RQ's own flag, checked between jobs)."""
        self._stop_requested = True

    @property
    def busy(self) -> bool:
        """Running a job right now."""
        return self.get_state() == WorkerStatus.BUSY


class Pool:
    """A process's slots, and its shutdown: on SIGTERM slots stop taking jobs, running turns get `grace`
    seconds, then are handed back to other workers."""

    def __init__(self, queues: list[Queue], size: int, grace: float, hand_back: Callable[[], int]) -> None:
        self.slots = [Slot(queues, connection=queues[0].connection) for _ in range(size)]
        self.grace = grace
        self.hand_back = hand_back  # hands back every turn still running in this process; returns how many
        self.threads: list[threading.Thread] = []
        self.stop_at: float | None = None

    def run(self, burst: bool, logging_level: str) -> None:
        """Run every slot until the queues are empty (burst) or the process is told to stop."""
        for index, slot in enumerate(self.slots):
            options = {"burst": burst, "logging_level": logging_level, "with_scheduler": index == 0}  # one scheduler
            self.threads.append(threading.Thread(target=slot.work, kwargs=options, name=f"slot-{index}", daemon=True))
        if not burst:
            signal.signal(signal.SIGTERM, self._request_stop)
            signal.signal(signal.SIGINT, self._request_stop)
        for thread in self.threads:
            thread.start()
        self._supervise()

    def _request_stop(self, signum: int, frame: Any) -> None:
        if self.stop_at is None:
            logger.info("warm shutdown: running turns get %s s to finish", self.grace)
            self.stop_at = time.monotonic() + self.grace
            for slot in self.slots:
                slot.stop()
        else:  # a second Ctrl-C: no more waiting
            self.stop_at = time.monotonic()

    def _supervise(self) -> None:
        """Wait for the slots (the main thread stays free for signals); cut running turns short after the grace."""
        while any(thread.is_alive() for thread in self.threads):
            time.sleep(0.2)
            if self.stop_at is not None and time.monotonic() > self.stop_at:
                return self._cut_short()

    def _cut_short(self) -> None:
        """Make running turns hand themselves back; any stuck waiting on a socket is handed back from here.

        Idle slots go first: one still waiting on the queue would take the handed-back turn straight back.
        """
        busy = [thread for slot, thread in zip(self.slots, self.threads) if slot.busy]
        self._join([thread for thread in self.threads if thread not in busy], IDLE_POLL_SECONDS + 1)
        for thread in busy:
            _raise_in(thread, ShuttingDown)
        self._join(self.threads, STRAGGLER_SECONDS)
        stuck = [slot for slot, thread in zip(self.slots, self.threads) if thread.is_alive()]
        if stuck:
            logger.warning("handed back %d turns still waiting on the network", self.hand_back())
            for slot in stuck:
                slot.teardown()  # its registration and scheduler; the thread dies with the process

    @staticmethod
    def _join(threads: list[threading.Thread], seconds: float) -> None:
        """Wait up to `seconds` in all for the threads to end."""
        deadline = time.monotonic() + seconds
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def _raise_in(thread: threading.Thread, exception: type[BaseException]) -> None:
    """Raise `exception` in another thread, at its next Python instruction (what RQ's TimerDeathPenalty does)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident or 0), ctypes.py_object(exception))
