"""Starting turns: one atomic Redis call each, so a turn job exists exactly when a conversation needs one.

The web side accepts messages (dedupe + inbox + enqueue, before the 200); the worker side uses
the same mechanism to hand a turn back on shutdown and to recover turns whose worker died.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from enum import IntEnum
from typing import Any

from redis import Redis
from rq import Queue
from rq.job import Job

from bot import jobs, keys
from bot.config import Config
from bot.messages import IncomingMessage

logger = logging.getLogger(__name__)

# Enqueue a turn unless one is pending: RQ's own enqueue commands, prepared by RQ and passed
# in as ARGV from index j (job id, pending TTL, conversation, deadline, then the commands), run
# here so the job exists exactly when the pending marker does. The conversation joins the
# active set with a deadline, so the sweeper notices if the turn never happens.
_RUN_COMMANDS = """
local function run_commands(i)
  while i <= #ARGV do
    local argc = tonumber(ARGV[i])
    redis.call(unpack(ARGV, i + 1, i + argc))
    i = i + argc + 1
  end
end
"""

_START_TURN = _RUN_COMMANDS + """
local function start_turn(pending, active, j)
  if redis.call('SET', pending, ARGV[j], 'NX', 'EX', ARGV[j + 1]) == false then return false end
  redis.call('ZADD', active, ARGV[j + 3], ARGV[j + 2])
  run_commands(j + 4)
  return true
end
"""

# KEYS: seen, inbox, pending, active. ARGV: message, dedupe TTL (0: no dedupe), then the job, if
# the caller built one: without it, a message for a conversation with no turn pending is left
# untouched (-1), for the caller to send again with a job. So a message joining a pending turn,
# the usual case in a burst, costs no job building.
_ACCEPT = _START_TURN + """
if #ARGV == 2 and redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
if ARGV[2] ~= '0' and redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[2]) == false then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
if #ARGV > 2 and start_turn(KEYS[3], KEYS[4], 3) then return 2 end
return 1
"""

# KEYS: outbox, pending, active, and maybe a claim. ARGV: the outgoing message, the claim's TTL, then the job. The
# conversation's own turn sends it, so it never interleaves with a reply. With a claim, only the call that sets it
# queues the message: a job retried after queueing it does not queue it twice.
_SEND_OUT = _START_TURN + """
if #KEYS == 4 and redis.call('SET', KEYS[4], 1, 'NX', 'EX', ARGV[2]) == false then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
start_turn(KEYS[2], KEYS[3], 3)
return 1
"""

# KEYS: seen, record. ARGV: dedupe TTL, the record, its TTL, then RQ's commands for the record's job. Stores a
# record (a business event) once and queues its job in the same step, or answers 0 for an id seen before.
_TAKE = _RUN_COMMANDS + """
if redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) == false then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
run_commands(4)
return 1
"""

# KEYS: lease, pending, active. ARGV: the lease token, then the job. Give up the lease and queue
# the turn again at once, its state intact, for another worker to resume.
_HAND_BACK = _START_TURN + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
start_turn(KEYS[2], KEYS[3], 2)
return 1
"""

# KEYS: lease, pending, inbox, batch, active, the pending job's RQ key, outbox. ARGV: the job.
# A conversation past its deadline: alive (leased, or its job still queued) gets a new deadline;
# with nothing left to answer it leaves the active set; otherwise start a turn: 1 resumes one whose
# worker stopped renewing its lease (died or stalled), 2 starts one for messages whose job was lost.
_RECOVER = _START_TURN + """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('HGET', KEYS[6], 'status') == 'queued' then
  redis.call('ZADD', KEYS[5], ARGV[4], ARGV[3])
  return 0
end
if redis.call('EXISTS', KEYS[3]) == 0 and redis.call('EXISTS', KEYS[4]) == 0 and redis.call('EXISTS', KEYS[7]) == 0 then
  redis.call('ZREM', KEYS[5], ARGV[3])
  return 0
end
redis.call('DEL', KEYS[2])
start_turn(KEYS[2], KEYS[5], 1)
if redis.call('EXISTS', KEYS[4]) == 1 then return 1 end
return 2
"""


NO_TURN_PENDING = -1  # what _ACCEPT answers when the message needs a turn job and was given none


class Accepted(IntEnum):
    """What intake did with a message."""

    DUPLICATE = 0  # seen before: a platform retry
    QUEUED = 1  # added to an inbox whose turn is already pending
    STARTED = 2  # added, and a turn job enqueued for it


class Recovered(IntEnum):
    """What recovery did with an overdue conversation."""

    ALIVE = 0  # nothing: its turn is running or queued, or nothing waits
    RESUMED = 1  # a turn in progress whose worker stopped renewing the lease (died, or stalled past it)
    STARTED = 2  # messages waiting with no job for them (it was lost)


class TurnQueue:
    """Puts messages into conversations and conversations onto the RQ queue of turns."""

    def __init__(self, redis: Redis, config: Config) -> None:
        self.redis = redis
        self.config = config
        self.queue = Queue(config.queue_name, connection=redis)
        self.events = Queue(jobs.EVENTS_QUEUE, connection=redis)
        self.pending_ttl = config.turn_timeout  # outlives any job; a dead worker's marker is cleared by recovery
        self.start_within = config.lease_seconds * 2  # a queued turn is checked on this long after it was queued
        self._accept = redis.register_script(_ACCEPT)
        self._hand_back = redis.register_script(_HAND_BACK)
        self._send_out = redis.register_script(_SEND_OUT)
        self._take = redis.register_script(_TAKE)
        self._recover = redis.register_script(_RECOVER)

    def accept(self, message: IncomingMessage, dedupe_ttl: int, seen: str = "") -> Accepted:
        """Store the message once (remembering its id, or the `seen` key given, for `dedupe_ttl` s; 0: no dedupe); raises
        RedisError if down."""
        conversation = message.conversation
        script_keys = [seen or keys.seen(message.platform, message.message_id), keys.inbox(conversation),
                       keys.pending(conversation), keys.active()]
        args = [message.to_json(), dedupe_ttl]
        result = self._accept(keys=script_keys, args=args)
        if result == NO_TURN_PENDING:
            result = self._accept(keys=script_keys, args=[*args, *self._turn_job(conversation)])
        outcome = Accepted(int(result))
        logger.info("message accepted", extra={"conversation": conversation, "outcome": outcome.name.lower()})
        return outcome

    def send_out(self, conversation: str, outgoing: str, claim: str = "", claim_ttl: int = 0) -> bool:
        """Queue a message the bot sends on its own; the conversation's next turn sends it, in order.

        With a `claim` key, only the first call that sets it (kept `claim_ttl` s) queues the message: False for the others.
        """
        script_keys = [keys.outbox(conversation), keys.pending(conversation), keys.active(), *([claim] if claim else [])]
        return bool(self._send_out(keys=script_keys, args=[outgoing, claim_ttl, *self._turn_job(conversation)]))

    def take(self, seen: str, dedupe_ttl: int, kept: str, record: str, keep: int, job: str, *args: str, **options: Any) -> bool:
        """Keep `record` at `kept` and queue `job(*args)` (RQ's `options`) on the events queue, once per `seen` key; False
        if seen before."""
        commands = _commands(self.events, job, *args, **options)
        return bool(self._take(keys=[seen, kept], args=[dedupe_ttl, record, keep, *commands[1:]]))

    def hand_back(self, conversation: str, token: str) -> bool:
        """Release a held lease and queue the turn again, for a worker that is shutting down."""
        job = self._turn_job(conversation)
        return bool(self._hand_back(keys=[keys.lease(conversation), keys.pending(conversation), keys.active()],
                                    args=[token, *job]))

    def recover(self, conversation: str) -> Recovered:
        """Start a turn for an overdue conversation whose worker died or whose job was lost; says which, if any."""
        pending_job = (self.redis.get(keys.pending(conversation)) or b"").decode()
        c = conversation
        result = self._recover(
            keys=[keys.lease(c), keys.pending(c), keys.inbox(c), keys.batch(c), keys.active(), Job.key_for(pending_job),
                  keys.outbox(c)],
            args=self._turn_job(conversation),
        )
        return Recovered(int(result))

    def overdue(self) -> list[str]:
        """Conversations past their deadline: their turn should have started or renewed its lease by now."""
        return [name.decode() for name in self.redis.zrangebyscore(keys.active(), 0, time.time())]

    def oldest_age(self) -> float:
        """Seconds the oldest queued turn has waited (0 with an empty queue)."""
        oldest = self.redis.lindex(self.queue.key, 0)
        enqueued = self.redis.hget(Job.key_for(oldest.decode()), "enqueued_at") if oldest else None
        if not enqueued:
            return 0.0
        return time.time() - datetime.fromisoformat(enqueued.decode().replace("Z", "+00:00")).timestamp()

    def _turn_job(self, conversation: str) -> list:
        """The job section of a script's ARGV: id, pending TTL, conversation, deadline, RQ's commands."""
        job_id, *commands = _commands(self.queue, jobs.TURN, conversation, job_timeout=self.config.turn_timeout)
        return [job_id, self.pending_ttl, conversation, time.time() + self.start_within, *commands]


def _commands(queue: Queue, func: str, *args: str, **options: Any) -> list:
    """The job's id, then RQ's commands that enqueue it, for a script's ARGV: each command's length, then the command.

    RQ writes its enqueue into a pipeline that is never sent; its commands run inside the script.
    """
    pipe = queue.connection.pipeline(transaction=False)
    job = queue.enqueue(func, *args, pipeline=pipe, **jobs.JOB_KEEP, **options)
    section: list = [job.id]
    for command, _options in pipe.command_stack:
        section += [len(command), *command]
    return section
