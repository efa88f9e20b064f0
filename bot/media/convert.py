"""Audio decoded with PyAV (FFmpeg): its length counted from the samples it decodes to, and what the transcription
endpoint does not take (Twilio's AMR voice notes, AAC, 3GP) re-encoded as 16 kHz mono WAV, which it does."""

from __future__ import annotations

import io
import logging
from itertools import chain
from typing import Iterator

import av

from bot.media.fetch import TooLarge, Unreadable

logger = logging.getLogger(__name__)

# FFmpeg's demuxer for each type the bytes show: named, never probed, so no file can pick a demuxer that opens URLs (HLS).
FORMATS = {"audio/amr": "amr", "audio/aac": "aac", "audio/x-aiff": "aiff", "video/3gpp": "mov"}  # converted to WAV
DEMUXERS = {**FORMATS, "audio/ogg": "ogg", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/x-flac": "flac",
            "audio/m4a": "mov", "audio/mp4": "mov", "video/mp4": "mov", "video/webm": "matroska", "audio/webm": "matroska"}
MIN_SECONDS = 0.1  # the endpoint refuses shorter audio ("Audio file is too short"): no retry or replay would help
RATE = 16_000  # what speech models listen at: 32 KB a second, so AUDIO_MAX_SECONDS' 600 s stay under the endpoint's 25 MB


def check_seconds(seconds: float | None, limit: int) -> None:
    """Refuse audio longer than `limit` seconds (0: no limit)."""
    if limit and seconds and seconds > limit:
        raise TooLarge(f"audio of more than {limit} s, over AUDIO_MAX_SECONDS")


def length(data: bytes, mime: str, max_seconds: int) -> float:
    """The audio's length in seconds, as decoded: no header or timestamp of the file can make it shorter."""
    seconds = sum(frame.samples for frame in _decoded(data, mime, max_seconds)) / RATE
    if seconds < MIN_SECONDS:
        raise Unreadable(f"audio of type {mime} shorter than the {MIN_SECONDS} s the endpoint takes")
    return seconds


def to_wav(data: bytes, mime: str, max_seconds: int) -> bytes:
    """The audio as WAV; TooLarge once it runs past `max_seconds` (0: no limit), Unreadable if FFmpeg cannot decode it."""
    out = io.BytesIO()
    with av.open(out, "w", format="wav") as target:
        stream = target.add_stream("pcm_s16le", rate=RATE, layout="mono")
        for frame in chain(_decoded(data, mime, max_seconds), [None]):  # None flushes the encoder
            target.mux(stream.encode(frame))
    logger.info("audio converted", extra={"type": mime, "bytes": len(data), "converted_bytes": out.tell()})
    return out.getvalue()


def _decoded(data: bytes, mime: str, max_seconds: int) -> Iterator[av.AudioFrame]:
    """The audio as 16 kHz mono frames, stopped as soon as more than `max_seconds` of them came out: counted, so
    decoding is bounded in time and memory whatever the file claims."""
    samples = 0
    try:
        with av.open(io.BytesIO(data), format=DEMUXERS[mime]) as source:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            for frame in chain(source.decode(audio=0), [None]):  # None flushes the resampler
                for resampled in resampler.resample(frame):
                    samples += resampled.samples
                    check_seconds(samples / RATE, max_seconds)
                    yield resampled
    except (av.FFmpegError, IndexError) as error:  # IndexError: no audio stream
        raise Unreadable(f"audio of type {mime} that FFmpeg cannot decode ({type(error).__name__})") from None
