"""The system prompt, read from prompts/ at every turn so an edit applies to the next message."""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

FALLBACK = "You are a helpful assistant. Answer briefly and clearly."


def system_prompt(directory: str, platform: str) -> str:
    """prompts/<platform>.md if there is one, else prompts/system.md."""
    for name in (f"{platform}.md", "system.md"):
        path = Path(directory) / name
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    logger.error("no prompt in %s: add prompts/system.md; using a generic one meanwhile", directory)
    return FALLBACK
