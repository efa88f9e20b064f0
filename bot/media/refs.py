"""What a message says of its media: enough for the worker to fetch it, none of its bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("audio", "image", "document")


@dataclass(frozen=True)
class Media:
    """One file a message carries, as the platform describes it: a hint only, the bytes decide what it is."""

    kind: str  # one of KINDS
    ref: str  # what the platform's download takes: a file id, a media id, a URL
    mime: str = ""
    name: str = ""
    size: int | None = None  # as declared: a file declared over the limit is never fetched
    seconds: float | None = None  # a voice note's length, where the platform says
    voice: bool = False  # recorded in the chat, not an audio file sent

    def to_dict(self) -> dict[str, Any]:
        """The fields set, for the message's JSON."""
        return {name: value for name, value in vars(self).items() if value not in (None, "", False)}


def kind_of(content_type: str) -> str:
    """The kind a declared content type suggests: audio/* and image/* as such, anything else (or none) a document."""
    major = content_type.split("/", 1)[0].strip().lower()
    return major if major in ("audio", "image") else "document"


def media_of(items: list[dict[str, Any]]) -> list[Media]:
    """A stored message's media, read back."""
    return [Media(**item) for item in items]
