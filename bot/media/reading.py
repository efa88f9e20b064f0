"""A turn's media read for the model: fetched, checked from its bytes, transcribed or extracted, then dropped.

Nothing fetched outlives the turn's attempt: a retried turn fetches again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from bot import llm
from bot.errors import BotError
from bot.media import audio, convert, documents, parts
from bot.media.fetch import TooLarge, Unreadable, check_size
from bot.media.refs import Media, media_of
from bot.media.sniff import DOCUMENTS, IMAGES, sniffed
from bot.messages import IncomingMessage
from bot.retry import with_retries
from bot.runtime import Runtime
from bot.turn.conversation import Conversation, Kind, Turn
from bot.turn.limits import Limits

logger = logging.getLogger(__name__)

Download = Callable[[Media, int], bytes]


@dataclass(frozen=True)
class Read:
    """A message as the model reads it (text, or content parts) and as the history keeps it (text, media as markers)."""

    content: str | list[dict[str, Any]]
    text: str


@dataclass(frozen=True)
class Reader:
    """What reading a turn's media needs: the settings, the platform's download, the turn's deadline."""

    rt: Any  # bot.runtime.Runtime (which imports bot.llm, as this module does)
    download: Download
    deadline: float
    spend: Callable[[int], None]  # counts transcription tokens against the user's daily budget

    def message(self, message: IncomingMessage) -> Read:
        """One message's caption and media, read."""
        content, markers = [parts.text(message.text)] if message.text.strip() else [], []
        for media in media_of(message.media):
            part, marker = self._one(media)
            content.append(part)
            markers.append(marker)
        texts = [part["text"] for part in content if part["type"] == "text"]
        joined = "\n".join(texts) if len(texts) == len(content) else content
        return Read(joined, " ".join(markers + ([message.text] if message.text.strip() else [])))

    def _one(self, media: Media) -> tuple[dict[str, Any], str]:
        config = self.rt.config
        check_size(media.size, config.media_max_bytes)
        convert.check_seconds(media.seconds, config.audio_max_seconds)  # as declared: a long voice note is not fetched
        if media.kind == "image" and not config.vision:
            return _unseen()
        data = with_retries(lambda: self.download(media, config.media_max_bytes), config.platform_max_retries,
                            "media download", deadline=self.deadline)
        mime = sniffed(data, media.name)
        logger.info("media fetched", extra={"kind": media.kind, "type": mime, "bytes": len(data)})  # never the content
        if mime in convert.DEMUXERS:  # audio, whatever the platform called it
            return self._audio(media, data, mime)
        if mime in IMAGES and not config.vision:  # a photo sent as a file: VISION=0 holds for it too
            return _unseen()
        if mime in IMAGES:
            return parts.image(data, mime), f"[photo, {len(data) // 1000} KB]"
        if mime in DOCUMENTS:
            name = media.name or "document"
            text = documents.text_of(data, mime, config.document_max_chars)
            return parts.text(f"[document {name}]\n{text}"), f"[document {name}]"
        raise Unreadable(f"a file of type {mime or 'unknown'}")

    def _audio(self, media: Media, data: bytes, mime: str) -> tuple[dict[str, Any], str]:
        config = self.rt.config
        file = audio.upload(data, mime, config.audio_max_seconds)
        seconds = convert.length(data, mime, config.audio_max_seconds)
        what = "voice note" if media.voice else "audio file"
        if config.offline:  # no transcription endpoint: say what came, so the path shows without a key
            return parts.text(f"a {what} of {seconds:.0f} s"), f"[{what}]"
        words, tokens = with_retries(lambda: llm.transcribe(config, file), config.openai_max_retries, "transcription",
                                     deadline=self.deadline)
        self.spend(tokens)
        return parts.text(words), f"[{what}] {words}"


def _unseen() -> tuple[dict[str, Any], str]:
    """A photo the model is not shown (VISION=0), and its marker."""
    return parts.text(parts.NOT_SHOWN), "[photo]"


def read_all(reader: Reader, messages: list[IncomingMessage]) -> dict[str, Read]:
    """The turn's messages that carry media, read, by message id; raises TooLarge, Unreadable or the download's errors."""
    return {message.message_id: reader.message(message) for message in messages if message.media}


def said(reads: dict[str, Read], messages: list[IncomingMessage]) -> list[Read]:
    """Every message with something in it, as read: media as read for this turn (else as markers), text as it is."""
    return [reads.get(message.message_id) or _unread(message) for message in messages if message.text.strip() or message.media]


def _unread(message: IncomingMessage) -> Read:
    """A message as this attempt has it without reading its files (a turn resumed after its reply was kept)."""
    markers = [_marker(media) for media in media_of(message.media)]
    words = " ".join(markers + ([message.text] if message.text.strip() else []))
    return Read(words, words)


def _marker(media: Media) -> str:
    """What the history keeps of a file that is not read: its kind, and a document's name."""
    if media.kind == "audio":
        return "[voice note]" if media.voice else "[audio file]"
    return "[photo]" if media.kind == "image" else f"[document {media.name or 'document'}]"


def discard(rt: Any, turn: Any) -> None:
    """Let the platform drop what it holds of the files the ended turn read (the chat page's uploads); one it did not
    read waits for its backstop, so that replaying the turn's dead letter reads it again."""
    channel = rt.channels.get(turn.last.platform)
    media = [item for message in turn.messages if message.message_id in turn.reads for item in media_of(message.media)]
    if channel is not None and media:
        channel.discard(media)


def read_turn(rt: Runtime, convo: Conversation, turn: Turn, limits: Limits) -> tuple[str, Kind] | None:
    """Read the turn's media into `turn.reads`; the notice to answer instead when it cannot be (a failure is dead-lettered)."""
    reader = Reader(rt, rt.channels[turn.last.platform].download, turn.deadline, lambda tokens: limits.spend(turn.last, tokens))
    try:
        turn.reads = read_all(reader, turn.messages)
    except TooLarge:
        return rt.config.media_limit_notice, Kind.NOTICE
    except Unreadable as error:
        logger.info("media not readable: %s", error, extra={"conversation": convo.name})
        return rt.config.media_unreadable_notice, Kind.NOTICE
    except BotError as error:  # a download or a transcription that failed after its retries: replayable
        convo.dead_letter(turn, f"media: {error}")
        return rt.config.failure_notice, Kind.NOTICE
    return None
