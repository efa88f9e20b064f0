"""Recurring messages declared in a file: a cron expression, a prompt or a text, and an audience.

Every worker looks for due triggers; a Redis key per trigger and tick makes exactly one of them
fire it, however many workers or dynos run. A tick missed while no worker ran fires once when one
comes back, within an hour; older ticks are skipped rather than sent late.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from croniter import croniter

from bot import keys
from bot.messages import IncomingMessage
from bot.outbound import proactive
from bot.runtime import Runtime

logger = logging.getLogger(__name__)

LATE = 3600  # seconds after its tick that a trigger still fires


@dataclass(frozen=True)
class Trigger:
    """One recurring message."""

    name: str
    cron: str
    audience: str  # "all", or "platform:<name>"
    text: str | None = None
    prompt: str | None = None
    template: dict[str, Any] | None = None  # sent instead to users past their reply window, as the API takes it


def load(path: Path) -> list[Trigger]:
    """The triggers in the file ([] if there is none); raises ValueError saying what is wrong."""
    if not path.is_file():
        return []
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of triggers")
    return [_trigger(path, entry) for entry in entries]


def _trigger(path: Path, entry: Any) -> Trigger:
    try:
        trigger = Trigger(**entry)
    except TypeError as error:
        raise ValueError(f"{path}: {entry!r}: {error}") from None
    if not croniter.is_valid(trigger.cron):
        raise ValueError(f"{path}: {trigger.name}: invalid cron expression {trigger.cron!r}")
    if (trigger.text is None) == (trigger.prompt is None):
        raise ValueError(f"{path}: {trigger.name}: give either text or prompt")
    if trigger.audience != "all" and not trigger.audience.startswith("platform:"):
        raise ValueError(f"{path}: {trigger.name}: audience must be all or platform:<name>")
    if trigger.template is not None:
        try:
            proactive.template(trigger.template)
        except ValueError as error:
            raise ValueError(f"{path}: {trigger.name}: {error}") from None
    return trigger


def last_tick(trigger: Trigger, now: datetime) -> datetime:
    """The trigger's most recent scheduled time at or before `now`."""
    return croniter(trigger.cron, now).get_prev(datetime)


def run_due(rt: Runtime) -> int:
    """Fire every trigger whose latest tick has not fired yet; returns how many fired here."""
    now = datetime.now(ZoneInfo(rt.config.timezone))
    fired = 0
    for trigger in load(Path(rt.config.triggers_file)):
        tick = last_tick(trigger, now)
        fresh = (now - tick).total_seconds() <= LATE
        if fresh and rt.redis.set(keys.trigger(trigger.name, str(int(tick.timestamp()))), 1, nx=True, ex=2 * 86400):
            fired += 1
            _fire(rt, trigger)
    return fired


def _fire(rt: Runtime, trigger: Trigger) -> None:
    sent = 0
    for contact in _audience(rt, trigger):
        item = proactive.outgoing(trigger.text, trigger.prompt, template=trigger.template)
        rt.turns.send_out(contact.conversation, json.dumps(item))
        sent += 1
    logger.info("trigger %s fired to %d conversations", trigger.name, sent)


def _audience(rt: Runtime, trigger: Trigger):
    """The known conversations the trigger is for; users past their reply window (WhatsApp's, Messenger's 24 hours) are
    skipped unless the trigger's template reaches them."""
    audience = trigger.audience
    platform = audience.split(":", 1)[1] if audience.startswith("platform:") else None
    for name in rt.redis.scan_iter(match=keys.contact("*"), count=500):
        raw = rt.redis.get(name)
        contact = IncomingMessage.from_json(raw) if raw else None
        if contact is None or (platform and contact.platform != platform):
            continue
        channel = rt.channels.get(contact.platform)
        if channel and channel.window_refusal(contact, trigger.template):
            continue
        yield contact
