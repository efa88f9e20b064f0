"""flask telegram ...: register, inspect and remove the webhook."""

from __future__ import annotations

from tests.conftest import TELEGRAM_SECRET
from tests.fakes import telegram_error


def test_set_webhook_registers_url_secret_and_updates(app, telegram):
    result = app.test_cli_runner().invoke(args=["telegram", "set-webhook", "https://bot.example.com"])
    assert result.exit_code == 0, result.output
    assert "https://bot.example.com/webhooks/telegram" in result.output
    assert telegram.calls("setWebhook") == [{
        "url": "https://bot.example.com/webhooks/telegram", "secret_token": TELEGRAM_SECRET, "allowed_updates": ["message"],
    }]


def test_set_webhook_needs_a_url(app, telegram):
    result = app.test_cli_runner().invoke(args=["telegram", "set-webhook"])
    assert result.exit_code != 0 and "PUBLIC_BASE_URL" in result.output
    assert telegram.requests == []


def test_webhook_info_shows_what_telegram_reports(app, telegram):
    result = app.test_cli_runner().invoke(args=["telegram", "webhook-info"])
    assert result.exit_code == 0
    assert "pending_update_count: 0" in result.output
    assert [call.method for call in telegram.requests] == ["getWebhookInfo"]


def test_delete_webhook(app, telegram):
    assert app.test_cli_runner().invoke(args=["telegram", "delete-webhook"]).exit_code == 0
    assert telegram.calls("deleteWebhook") == [{}]


def test_a_refusal_is_one_clear_line_without_the_token(app, telegram):
    telegram.then(telegram_error(401, "Unauthorized"))
    result = app.test_cli_runner().invoke(args=["telegram", "set-webhook", "https://bot.example.com"])
    assert result.exit_code == 1
    assert "Telegram setWebhook failed (401): Unauthorized" in result.output
    assert "TEST-TOKEN" not in result.output


def test_polling_feeds_the_same_intake_deduped_and_in_order(app, telegram, run_worker, redis):
    from tests.fakes import Canned
    from tests.helpers import update

    telegram.then(Canned(body={"ok": True, "result": {"url": "", "pending_update_count": 2}}),
                  Canned(body={"ok": True, "result": [update("polled one", update_id=900), update("polled one", update_id=900),
                                                      update("polled two", update_id=901)]}))
    result = app.test_cli_runner().invoke(args=["telegram", "poll", "--once"])
    assert result.exit_code == 0, result.output
    assert telegram.calls("getUpdates") == [{"offset": 0, "timeout": 0, "allowed_updates": ["message"]}]
    run_worker()
    assert [m["text"] for m in telegram.sent] == ["LLM: polled one + polled two"]  # deduped, in order


def test_polling_refuses_while_a_webhook_is_set(app, telegram):
    from tests.fakes import Canned

    telegram.then(Canned(body={"ok": True, "result": {"url": "https://bot.example.com/webhooks/telegram"}}))
    result = app.test_cli_runner().invoke(args=["telegram", "poll", "--once"])
    assert result.exit_code == 1 and "delete-webhook" in result.output
    assert telegram.calls("getUpdates") == []
