"""Recurring triggers: declared in a file, fired exactly once per tick however many workers look."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from bot.outbound import triggers
from tests.helpers import Bot, post_update, update


def with_triggers(settings, tmp_path, entries: list[dict]) -> Bot:
    (tmp_path / "triggers.yaml").write_text(json.dumps(entries))  # JSON is YAML
    return Bot(settings, TRIGGERS_FILE=str(tmp_path / "triggers.yaml"))


def known(b: Bot, chat_id: int) -> None:
    post_update(b.client, update("hi", chat_id=chat_id))
    b.run()


def test_a_due_trigger_fires_once_however_many_workers_look(settings, tmp_path, telegram):
    b = with_triggers(settings, tmp_path, [{"name": "news", "cron": "* * * * *", "audience": "all", "text": "Fresh **news**."}])
    known(b, 1)
    known(b, 2)
    assert [triggers.run_due(b.rt), triggers.run_due(b.rt)] == [1, 0]  # a second worker finds it fired
    b.run()
    sent = [(m["chat_id"], m["text"]) for m in telegram.sent if m["text"] == "Fresh <b>news</b>."]
    assert sorted(sent) == [(1, "Fresh <b>news</b>."), (2, "Fresh <b>news</b>.")]


def test_the_audience_can_be_one_platform(settings, tmp_path, telegram, redis):
    b = with_triggers(settings, tmp_path, [{"name": "t", "cron": "* * * * *", "audience": "platform:slack", "text": "x"}])
    known(b, 1)
    triggers.run_due(b.rt)
    assert redis.keys("bot:outbox:*") == []


def test_users_outside_their_platforms_reply_window_are_skipped(settings, tmp_path, redis):
    meta = {"WHATSAPP_ACCESS_TOKEN": "t", "WHATSAPP_APP_SECRET": "s", "WHATSAPP_VERIFY_TOKEN": "v"}
    entry = {"name": "t", "cron": "* * * * *", "audience": "platform:whatsapp", "text": "x"}
    b = with_triggers({**settings, **meta}, tmp_path, [entry])
    for user, hours in (("fresh", 23), ("stale", 25)):  # WhatsApp takes free-form text for 24 hours
        contact = {"platform": "whatsapp", "message_id": user, "conversation_id": f"1065:{user}", "user_id": user, "text": "",
                   "received_at": time.time() - hours * 3600, "context": {}}
        redis.set(f"bot:contact:whatsapp:1065:{user}", json.dumps(contact))
    triggers.run_due(b.rt)
    assert redis.keys("bot:outbox:*") == [b"bot:outbox:whatsapp:1065:fresh"]


def test_the_last_tick_is_the_latest_scheduled_time():
    trigger = triggers.Trigger("t", "0 9 * * MON", "all", text="x")
    now = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)  # a Wednesday
    assert triggers.last_tick(trigger, now) == datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("entry, problem", [
    ({"name": "t", "cron": "61 * * * *", "audience": "all", "text": "x"}, "invalid cron expression"),
    ({"name": "t", "cron": "* * * * *", "audience": "all"}, "either text or prompt"),
    ({"name": "t", "cron": "* * * * *", "audience": "everyone", "text": "x"}, "audience must be"),
    ({"name": "t", "cron": "* * * * *", "audience": "all", "text": "x", "colour": "red"}, "unexpected keyword"),
    ({"name": "t", "cron": "* * * * *", "audience": "all", "prompt": "missing.md"}, "prompt missing.md does not exist"),
])
def test_prompts_check_validates_the_triggers(settings, tmp_path, entry, problem):
    b = with_triggers(settings, tmp_path, [entry])
    result = b.app.test_cli_runner().invoke(args=["prompts", "check"])
    assert result.exit_code == 1 and problem in result.output


def test_the_shipped_triggers_file_is_valid_and_empty():
    from tests.helpers import ROOT

    assert triggers.load(ROOT / "prompts" / "triggers.yaml") == []
