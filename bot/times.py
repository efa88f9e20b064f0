"""How the bot writes times: in UTC, one way for people and one for machines."""

from __future__ import annotations

import time
from datetime import datetime, timezone


def stamp(seconds: float) -> str:
    """For people reading a list (the CLI, /admin): 2026-12-01 09:00:00."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def day(seconds: float | None = None) -> str:
    """The date daily windows are named by (default: today): 2026-12-01."""
    return time.strftime("%Y-%m-%d", time.gmtime(seconds))


def iso(seconds: float | None = None) -> str:
    """ISO 8601 with a Z, as events and callbacks carry it (default: now): 2026-12-01T09:00:00.123456Z."""
    moment = datetime.now(timezone.utc) if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")
