"""Small media files made here: a WAV of silence, a PNG and a one-page PDF with the standard library, AMR, Ogg and WebM
voice notes with PyAV's encoders."""

from __future__ import annotations

import io
import struct
import wave
import zlib

import av


def wav(seconds: float, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of silence lasting `seconds`."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()


def png(width: int = 4, height: int = 4, padding: int = 0) -> bytes:
    """A grey PNG; `padding` bytes of an ancillary chunk make it as large as a test needs."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    extra = chunk(b"teXt", b"c\0" + b"x" * padding) if padding else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def pdf(*texts: str) -> bytes:
    """A PDF of a page showing each of `texts` in Helvetica."""
    pages = len(texts)
    kids = " ".join(f"{4 + 2 * n} 0 R" for n in range(pages)).encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for n, text in enumerate(texts):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                    b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * n),
                    b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % at for at in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def amr(seconds: float) -> bytes:
    """An AMR-NB voice note of silence lasting `seconds`, as Twilio's WhatsApp and MMS voice notes come (#!AMR)."""
    return _encoded("amr", "libopencore_amrnb", 8000, seconds)


def ogg(seconds: float = 1) -> bytes:
    """An Ogg/Opus voice note of silence lasting `seconds`, as Telegram's .oga and WhatsApp's voice notes are."""
    return _encoded("ogg", "libopus", 48000, seconds)


def webm(seconds: float) -> bytes:
    """A WebM/Opus voice note of silence lasting `seconds`, as Chromium's MediaRecorder makes them."""
    return _encoded("webm", "libopus", 48000, seconds)


def _encoded(container: str, codec: str, rate: int, seconds: float) -> bytes:
    """Silence lasting `seconds`, encoded with PyAV in 20 ms frames."""
    out, samples = io.BytesIO(), rate // 50
    with av.open(out, "w", format=container) as file:
        stream = file.add_stream(codec, rate=rate, layout="mono")
        for n in range(int(seconds * 50)):
            frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
            frame.planes[0].update(bytes(2 * samples))
            frame.sample_rate, frame.pts = rate, n * samples
            file.mux(stream.encode(frame))
        file.mux(stream.encode(None))
    return out.getvalue()
