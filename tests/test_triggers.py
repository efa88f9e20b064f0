"""Recurring triggers: declared in a file, fired exactly once per tick however many workers look."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from app import create_app
from bot.outbound import triggers
from bot.worker.process import work
from tests.helpers import post_update, update


def bot(settings, tmp_path, entries: list[dict]):
    (tmp_path / "triggers.yaml").write_text(json.dumps(entries))  # JSON is YAML
    app = create_app({**settings, "TRIGGERS_FILE": str(tmp_path / "triggers.yaml")})
    return app, app.extensions["bot"]


def known(app, chat_id: int) -> None:
    post_update(app.test_client(), update("hi", chat_id=chat_id))
    work(app.extensions["bot"], burst=True)


def test_a_due_trigger_fires_once_however_many_workers_look(settings, tmp_path, telegram):
    app, rt = bot(settings, tmp_path, [{"name": "news", "cron": "* * * * *", "audience": "all", "text": "Fresh **news**."}])
    known(app, 1)
    known(app, 2)
    assert [triggers.run_due(rt), triggers.run_due(rt)] == [1, 0]  # a second worker finds it fired
    work(rt, burst=True)
    sent = [(m["chat_id"], m["text"]) for m in telegram.sent if m["text"] == "Fresh <b>news</b>."]
    assert sorted(sent) == [(1, "Fresh <b>news</b>."), (2, "Fresh <b>news</b>.")]


def test_the_audience_can_be_one_platform(settings, tmp_path, telegram, redis):
    app, rt = bot(settings, tmp_path, [{"name": "t", "cron": "* * * * *", "audience": "platform:slack", "text": "x"}])
    known(app, 1)
    triggers.run_due(rt)
    assert redis.keys("bot:outbox:*") == []


def test_users_outside_their_platforms_reply_window_are_skipped(settings, tmp_path, redis):
    meta = {"WHATSAPP_ACCESS_TOKEN": "t", "WHATSAPP_APP_SECRET": "s", "WHATSAPP_VERIFY_TOKEN": "v"}
    app, rt = bot({**settings, **meta}, tmp_path, [{"name": "t", "cron": "* * * * *", "audience": "platform:whatsapp", "text": "x"}])
    for user, hours in (("fresh", 23), ("stale", 25)):  # WhatsApp takes free-form text for 24 hours
        contact = {"platform": "whatsapp", "message_id": user, "conversation_id": f"1065:{user}", "user_id": user, "text": "",
                   "received_at": time.time() - hours * 3600, "context": {}}
        redis.set(f"bot:contact:whatsapp:1065:{user}", json.dumps(contact))
    triggers.run_due(rt)
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
    app, _ = bot(settings, tmp_path, [entry])
    result = app.test_cli_runner().invoke(args=["prompts", "check"])
    assert result.exit_code == 1 and problem in result.output


def test_the_shipped_triggers_file_is_valid_and_empty():
    from tests.helpers import ROOT

    assert triggers.load(ROOT / "prompts" / "triggers.yaml") == []
