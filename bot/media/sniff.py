"""What a file is, told from its bytes: the platform's content type is a hint, never trusted."""

from __future__ import annotations

import filetype

# The transcription endpoint's formats (contracts-next 2.1), by the name each is sent under: Telegram's .oga is Ogg.
AUDIO = {"audio/ogg": "ogg", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/x-flac": "flac", "audio/m4a": "m4a",
         "audio/mp4": "m4a", "video/mp4": "mp4", "video/webm": "webm", "audio/webm": "webm"}
IMAGES = {"image/png", "image/jpeg", "image/webp", "image/gif"}  # what the model takes as image input
DOCUMENTS = {"application/pdf", "text/plain", "text/csv"}


def sniffed(data: bytes, name: str = "") -> str:
    """The content type the bytes show; text/plain (text/csv by its name) for UTF-8 text; "" when they show none."""
    guess = filetype.guess_mime(data)
    if guess:
        return guess
    try:
        data.decode()
    except UnicodeDecodeError:
        return ""
    return "text/csv" if name.lower().endswith(".csv") else "text/plain"
