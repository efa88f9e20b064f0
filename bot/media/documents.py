"""A document's text: PDFs through pypdf, text and CSV as they are, cut to a bounded length."""

from __future__ import annotations

import io

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from bot.media.fetch import Unreadable

PAGES = 20  # read no further: pypdf bounds what one page costs (seconds of CPU at worst), not how many pages there are


def text_of(data: bytes, mime: str, limit: int) -> str:
    """At most `limit` characters of the document's text, from a PDF's first PAGES pages."""
    if mime != "application/pdf":
        return data.decode()[:limit]
    try:
        pages, length = [], 0
        for page in PdfReader(io.BytesIO(data)).pages[:PAGES]:
            pages.append(page.extract_text() or "")
            length += len(pages[-1])
            if length >= limit:  # a long PDF is not read past what the model gets
                break
    except (PyPdfError, ValueError, RecursionError) as error:  # RecursionError: objects nested thousands deep
        raise Unreadable(f"an unreadable PDF ({type(error).__name__})") from None
    return "\n".join(pages)[:limit]
