"""Audio the transcription endpoint does not take (Twilio's AMR voice notes, AAC, 3GP), re-encoded with PyAV (FFmpeg)
as 16 kHz mono WAV, which it does."""

from __future__ import annotations

import io
import logging
from itertools import chain

import av

from bot.media.fetch import TooLarge, Unreadable

logger = logging.getLogger(__name__)

# FFmpeg's demuxer for each type the bytes show: named, never probed, so no file can pick a demuxer that opens URLs (HLS).
FORMATS = {"audio/amr": "amr", "audio/aac": "aac", "audio/x-aiff": "aiff", "video/3gpp": "mov"}
RATE = 16_000  # what speech models listen at: 32 KB a second, so AUDIO_MAX_SECONDS' 600 s stay under the endpoint's 25 MB


def to_wav(data: bytes, mime: str, max_seconds: int) -> bytes:
    """The audio as WAV; TooLarge once it runs past `max_seconds` (0: no limit), Unreadable if FFmpeg cannot decode it."""
    out = io.BytesIO()
    try:
        with av.open(io.BytesIO(data), format=FORMATS[mime]) as source, av.open(out, "w", format="wav") as target:
            stream = target.add_stream("pcm_s16le", rate=RATE, layout="mono")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            for frame in chain(source.decode(audio=0), [None]):  # None flushes the resampler, then the encoder
                if frame is not None and max_seconds and (frame.time or 0) > max_seconds:
                    raise TooLarge(f"audio of more than {max_seconds} s, over AUDIO_MAX_SECONDS")
                for resampled in resampler.resample(frame):
                    target.mux(stream.encode(resampled))
            target.mux(stream.encode(None))
    except (av.FFmpegError, IndexError) as error:  # IndexError: no audio stream
        raise Unreadable(f"audio of type {mime} that FFmpeg cannot decode ({type(error).__name__})") from None
    logger.info("audio converted", extra={"type": mime, "bytes": len(data), "converted_bytes": out.tell()})
    return out.getvalue()
