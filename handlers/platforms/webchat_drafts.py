"""The chat page's reply being written: its newest frame kept in Redis, and the events the page's poll and its
stream read (docs/streaming.md)."""

from __future__ import annotations

import json
import logging
from typing import Any, Iterator

from redis import Redis
from redis.exceptions import RedisError

from bot import keys
from bot.messages import Draft
from handlers.platforms.sse import Update

logger = logging.getLogger(__name__)

DRAFT_SECONDS = 60  # a reply being written shows this long at most after its last frame (its worker may have died)
WAKE_MS = 1000  # the longest a stream waits for news: how soon the typing flag's changes show


def draft_key(session: str) -> str:
    """The session's newest frame: a Redis stream of one entry, so that a stream can wait for the next."""
    return keys.channel("webchat", "draft", session)


class Drafts:
    """The web chat adapter's previews, and the session's events: its replies, the typing flag, the frame shown."""

    name: str
    redis: Redis

    def previews(self, context: dict[str, Any]) -> bool:
        """The page shows a reply being written."""
        return True

    def preview(self, draft: Draft) -> str:
        """Keep the newest frame where the page's stream (or its next poll) finds it; the reply's first part clears it."""
        key = draft_key(draft.conversation_id)
        self.redis.pipeline().xadd(key, {"html": draft.text}, maxlen=1, approximate=False).expire(key, DRAFT_SECONDS).execute()
        return ""

    def events(self, session: str, after: str) -> dict[str, Any]:
        """The replies after stream id `after`, whether the bot is typing, and the reply being written (or None)."""
        return self._events(session, after)[0]

    def _events(self, session: str, after: str) -> tuple[dict[str, Any], str]:
        """The events, and the stream id of the frame shown ("0" for none)."""
        pipe = self.redis.pipeline()
        pipe.xrange(keys.channel(self.name, session), min=f"({after}" if after != "0" else "-", count=50)
        pipe.exists(keys.channel(self.name, "typing", session)).xrevrange(draft_key(session), count=1)
        replies, typing, drafts = pipe.execute()
        state = {"replies": [{"id": rid.decode(), "html": data[b"html"].decode()} for rid, data in replies],
                 "typing": bool(typing), "draft": drafts[0][1][b"html"].decode() if drafts else None}
        return state, drafts[0][0].decode() if drafts else "0"

    def updates(self, session: str, after: str) -> Iterator[Update]:
        """The events as they change, for a stream: each step waits for a reply or a frame, a second at most."""
        shown: tuple[Any, ...] = ()
        try:
            while True:
                state, frame = self._events(session, after)
                if state["replies"] or (state["typing"], state["draft"]) != shown:
                    after, shown = state["replies"][-1]["id"] if state["replies"] else after, (state["typing"], state["draft"])
                    yield after, json.dumps(state)
                else:
                    yield None
                self.redis.xread({keys.channel(self.name, session): after, draft_key(session): frame}, block=WAKE_MS)
        except RedisError as error:  # the stream ends; the page reconnects, or polls
            logger.warning("chat page stream ended: Redis failed (%s)", error)
