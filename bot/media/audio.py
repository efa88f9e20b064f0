"""Voice notes and audio files: the name, bytes and type the transcription endpoint knows them by."""

from __future__ import annotations

from bot.media import convert
from bot.media.fetch import Unreadable
from bot.media.sniff import AUDIO


def upload(data: bytes, mime: str, max_seconds: int) -> tuple[str, bytes, str]:
    """The file as the endpoint takes it (a name it accepts, the bytes, their type): WAV when it refuses their format."""
    if mime in AUDIO:
        return f"voice.{AUDIO[mime]}", data, mime
    if mime in convert.FORMATS:
        return "voice.wav", convert.to_wav(data, mime, max_seconds), "audio/x-wav"
    raise Unreadable(f"audio of type {mime or 'unknown'}, which the transcription endpoint does not take")
