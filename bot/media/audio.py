"""Voice notes and audio files: how long they are, and the name the transcription endpoint knows them by."""

from __future__ import annotations

import io

import mutagen
from mutagen import MutagenError

from bot.media import convert
from bot.media.fetch import TooLarge, Unreadable
from bot.media.sniff import AUDIO


def upload(data: bytes, mime: str, max_seconds: int) -> tuple[str, bytes, str]:
    """The file as the endpoint takes it (a name it accepts, the bytes, their type): WAV when it refuses their format."""
    if mime in AUDIO:
        return f"voice.{AUDIO[mime]}", data, mime
    if mime in convert.FORMATS:
        return "voice.wav", convert.to_wav(data, mime, max_seconds), "audio/x-wav"
    raise Unreadable(f"audio of type {mime or 'unknown'}, which the transcription endpoint does not take")


def check_length(data: bytes, declared: float | None, limit: int) -> float | None:
    """The audio's length in seconds (from its bytes, else as declared), refused past `limit`."""
    seconds = _length(data) or declared
    if limit and seconds and seconds > limit:
        raise TooLarge(f"audio of {seconds:.0f} s, over AUDIO_MAX_SECONDS ({limit})")
    return seconds


def _length(data: bytes) -> float | None:
    try:
        parsed = mutagen.File(io.BytesIO(data))
    except (MutagenError, ValueError, EOFError):
        return None
    return parsed.info.length if parsed is not None and parsed.info.length else None
