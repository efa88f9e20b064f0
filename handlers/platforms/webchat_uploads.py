"""The chat page's photos and voice notes: held in Redis by an opaque reference, only until the turn that reads them ends.

The page uploads a file, then sends a message carrying the reference it got back; the worker reads the file through
the adapter's `download`, like any platform's, and the turn deletes it when it ends.
"""

from __future__ import annotations

import secrets

from redis import Redis

from bot import keys
from bot.errors import Permanent, Rejected
from bot.media.fetch import check_size
from bot.media.refs import Media
from bot.media.sniff import AUDIO, IMAGES, sniffed

# Backstops: the turn deletes its upload when it ends. One no message refers to (the page sends its message at once,
# its retries within a minute) fades soon, bounding what a visitor may pile up; one a message carries waits longer.
UNSENT_SECONDS = 120
KEEP_SECONDS = 900
KINDS = {**dict.fromkeys(IMAGES, "image"), **dict.fromkeys(AUDIO, "audio")}  # what the bytes may show


class Uploads:
    """The web chat adapter's uploads: kept for one session, read by the worker's media path, dropped with the turn."""

    name: str
    redis: Redis

    def keep(self, session: str, data: bytes) -> dict[str, str]:
        """Hold `data` for `session`: its reference and kind; 415 unless its bytes show a photo or audio."""
        mime = sniffed(data)
        if mime not in KINDS:
            raise Rejected("Only photos and voice notes can be sent here.", 415)
        ref = secrets.token_urlsafe(24)
        key = self._key(ref)
        self.redis.pipeline().hset(key, mapping={"session": session, "mime": mime, "data": data}) \
            .expire(key, UNSENT_SECONDS).execute()
        return {"upload": ref, "kind": KINDS[mime]}

    def attached(self, session: str, ref: str, seconds: float | None) -> Media:
        """The file a message of `session` refers to, kept now until its turn; 400 unless that session uploaded it and it
        is still here."""
        key = self._key(ref)
        (owner, mime), size = self.redis.pipeline().hmget(key, "session", "mime").hstrlen(key, "data").execute()
        if owner is None or owner.decode() != session:
            raise Rejected("That file is no longer here: please attach it again.")
        self.redis.expire(key, KEEP_SECONDS)
        kind = KINDS[mime.decode()]
        # Audio comes from the page's record button only: a voice note, its length as the page timed it.
        return Media(kind, ref, mime.decode(), size=size, seconds=seconds if kind == "audio" else None, voice=kind == "audio")

    def download(self, media: Media, limit: int) -> bytes:
        """The uploaded bytes; Permanent once they are gone (the backstop passed before the turn read them)."""
        data = self.redis.hget(self._key(media.ref), "data")
        if data is None:
            raise Permanent("the chat page's upload expired before its turn read it", kind="media_refused")
        check_size(len(data), limit)
        return data

    def discard(self, media: list[Media]) -> None:
        """Delete the turn's uploads: it has ended."""
        if media:
            self.redis.delete(*(self._key(item.ref) for item in media))

    def forget_uploads(self, session: str) -> int:
        """Delete the session's uploads still waiting for their turn (an erasure request); returns how many."""
        mine = [key for key in self.redis.scan_iter(self._key("*"), count=1000)
                if self.redis.hget(key, "session") == session.encode()]
        return self.redis.delete(*mine) if mine else 0

    def _key(self, ref: str) -> str:
        return keys.channel(self.name, "upload", ref)
