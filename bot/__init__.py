"""The platform-neutral core: conversations, turns and the LLM; handlers/ brings the platforms."""

from __future__ import annotations

import importlib
from types import ModuleType

# RQ keeps a job's function as a dotted path, and jobs queued before the modules moved into subpackages name the old
# ones: turns waiting in the queue, scheduled messages (days ahead), event deliveries waiting to be retried, and
# failed jobs an operator may requeue (kept a week). RQ reads `bot.turns.run`, when no module bot.turn.job exists, as
# the attribute `turns.run` of this package, so these names serve those jobs with no module left at the old paths.
# Remove them once no queued, scheduled or failed job names them (rq-dashboard lists them under /admin/rq).
_MOVED = {"turns": "bot.turn.job", "proactive": "bot.outbound.proactive", "events": "bot.outbound.events"}


def __getattr__(name: str) -> ModuleType:
    """The module a job queued before the move names by its old path, such as bot.turn.job for bot.turns.run."""
    if name not in _MOVED:
        raise AttributeError(f"module 'bot' has no attribute {name!r}")
    return importlib.import_module(_MOVED[name])
