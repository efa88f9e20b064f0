"""Web side: dedupe, store and enqueue a message in one atomic Redis call, before the 200."""

from __future__ import annotations

import logging
from enum import IntEnum

from redis import Redis
from rq import Queue

from bot import keys
from bot.config import Config
from bot.messages import IncomingMessage

logger = logging.getLogger(__name__)

TURN_JOB = "bot.turns.run"  # by name: the web process never imports the worker's modules

# Seen before? Skip. Otherwise append to the inbox, and only if no turn is pending for the
# conversation run RQ's own enqueue commands (prepared by RQ, passed in as ARGV) so the
# turn job exists exactly when the pending marker does. One round trip, all or nothing.
_ACCEPT = """
if redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[2]) == false then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
if redis.call('SET', KEYS[3], ARGV[4], 'NX', 'EX', ARGV[3]) == false then return 1 end
local i = 5
while i <= #ARGV do
  local argc = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + argc))
  i = i + argc + 1
end
return 2
"""


class Accepted(IntEnum):
    """What intake did with a message."""

    DUPLICATE = 0  # seen before: a platform retry
    QUEUED = 1  # added to an inbox whose turn is already pending
    STARTED = 2  # added, and a turn job enqueued for it


class Intake:
    """Accepts verified, parsed messages into their conversations."""

    def __init__(self, redis: Redis, config: Config) -> None:
        self.redis = redis
        self.config = config
        self.queue = Queue(config.queue_name, connection=redis)
        self._accept = redis.register_script(_ACCEPT)

    def accept(self, message: IncomingMessage, dedupe_ttl: int) -> Accepted:
        """Store the message once, keeping it for `dedupe_ttl` seconds as seen; raises RedisError if down."""
        conversation = message.conversation
        job_id, commands = self._turn_job(conversation)
        result = self._accept(
            keys=[keys.seen(message.platform, message.message_id), keys.inbox(conversation), keys.pending(conversation)],
            args=[message.to_json(), dedupe_ttl, self.config.lease_seconds * 2, job_id, *commands],
        )
        outcome = Accepted(int(result))
        logger.info("message accepted", extra={"conversation": conversation, "outcome": outcome.name.lower()})
        return outcome

    def _turn_job(self, conversation: str) -> tuple[str, list]:
        """Let RQ write its enqueue into a pipeline we never send, and hand its commands to the script."""
        pipe = self.redis.pipeline(transaction=False)
        job = self.queue.enqueue(
            TURN_JOB, conversation, pipeline=pipe, job_timeout=self.config.turn_timeout, result_ttl=0, failure_ttl=7 * 86400
        )
        flat: list = []
        for args, _options in pipe.command_stack:
            flat += [len(args), *args]
        return job.id, flat
