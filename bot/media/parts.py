"""Chat-completion content parts: images as data URLs (the platforms' URLs need the bot's credentials), and
their stand-ins where the model sees no image."""

from __future__ import annotations

import base64
from typing import Any

NOT_SHOWN = "(The user sent a photo, which you cannot see.)"


def image(data: bytes, mime: str) -> dict[str, Any]:
    """An image part holding the image itself."""
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{base64.b64encode(data).decode()}"}}


def text(words: str) -> dict[str, Any]:
    """A text part."""
    return {"type": "text", "text": words}


def has_images(messages: list[dict[str, Any]]) -> bool:
    """Some message carries an image part."""
    return any(part.get("type") == "image_url" for message in messages if isinstance(message["content"], list)
               for part in message["content"])


def without_images(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with each image part replaced by a note that an image was sent: for a model that refuses images."""
    return [{**message, "content": [text(NOT_SHOWN) if part.get("type") == "image_url" else part for part in message["content"]]}
            if isinstance(message["content"], list) else message for message in messages]


def described(content: str | list[dict[str, Any]]) -> str:
    """The content as text, each image as its size: how the offline stand-in says what it got."""
    if isinstance(content, str):
        return content
    return ", ".join(part["text"] if part["type"] == "text" else f"a photo of {_kilobytes(part)} KB" for part in content)


def _kilobytes(part: dict[str, Any]) -> int:
    encoded = part["image_url"]["url"].split(",", 1)[-1]
    return round(len(encoded) * 3 / 4 / 1000)
