"""flask webhook set | show | delete PLATFORM, against local fakes of each platform's API."""

from __future__ import annotations

import pytest

from tests.conftest import TELEGRAM_SECRET, TELEGRAM_TOKEN
from tests.fakes import Canned, telegram_error

PUBLIC = "https://bot.example.com"


def run(app, *args: str):
    """Run `flask webhook ARGS` the way an operator would."""
    return app.test_cli_runner().invoke(args=["webhook", *args])


# Telegram: the Bot API, the token in the path (platforms.md 1.1)


def test_telegram_set_registers_url_secret_and_updates(app, telegram):
    result = run(app, "set", "telegram", PUBLIC)
    assert (result.exit_code, result.output) == (0, f"Webhook set: {PUBLIC}/webhooks/telegram\n")
    [call] = telegram.requests
    assert (call.verb, call.path) == ("POST", f"/bot{TELEGRAM_TOKEN}/setWebhook")
    assert call.body == {"url": f"{PUBLIC}/webhooks/telegram", "secret_token": TELEGRAM_SECRET, "allowed_updates": ["message"]}


def test_set_defaults_to_public_base_url_and_keeps_a_full_webhook_url(settings, telegram):
    from app import create_app

    app = create_app({**settings, "PUBLIC_BASE_URL": f"{PUBLIC}/webhooks/telegram/"})
    assert run(app, "set", "telegram").exit_code == 0
    assert telegram.calls("setWebhook")[0]["url"] == f"{PUBLIC}/webhooks/telegram"


def test_set_needs_a_url(app, telegram):
    result = run(app, "set", "telegram")
    assert result.exit_code == 2 and "give the public HTTPS URL of this app, or set PUBLIC_BASE_URL" in result.output
    assert telegram.requests == []


def test_telegram_show_prints_what_telegram_reports(app, telegram):
    telegram.then(Canned(body={"ok": True, "result": {"url": f"{PUBLIC}/webhooks/telegram", "pending_update_count": 3,
                                                      "last_error_message": "Wrong response from the webhook: 403"}}))
    result = run(app, "show", "telegram")
    assert result.output == (f"last_error_message: Wrong response from the webhook: 403\n"
                             f"pending_update_count: 3\nurl: {PUBLIC}/webhooks/telegram\n")
    assert [(call.verb, call.method, call.body) for call in telegram.requests] == [("POST", "getWebhookInfo", {})]


def test_telegram_delete(app, telegram):
    result = run(app, "delete", "telegram")
    assert (result.exit_code, result.output) == (0, "Webhook deleted.\n")
    assert [(call.method, call.body) for call in telegram.requests] == [("deleteWebhook", {})]


def test_telegram_refusal_is_one_line_without_the_token(app, telegram):
    telegram.then(telegram_error(401, "Unauthorized"))
    result = run(app, "set", "telegram", PUBLIC)
    assert (result.exit_code, result.output) == (1, "Error: Telegram setWebhook failed (401): Unauthorized\n")


# Platforms whose API cannot set the webhook, and platforms not enabled


@pytest.mark.parametrize("platform, says", [
    ("slack", "paste https://<your-app>/webhooks/slack as the Request URL on your app's Event Subscriptions page"),
    ("webhook", "generic webhooks have nothing to register here"),
    ("webchat", "the chat page needs no webhook"),
])
@pytest.mark.parametrize("command", ["set", "show", "delete"])
def test_platforms_without_a_webhook_api_say_where_to_set_it(app, telegram, platform, says, command):
    result = run(app, command, platform)
    assert result.exit_code == 1 and says in result.output and result.output.count("\n") == 1
    assert telegram.requests == []


def test_a_platform_not_enabled_names_its_missing_variables(app):
    result = run(app, "show", "line")
    assert (result.exit_code, result.output) == (
        1, "Error: line is not enabled here: set LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN\n")


def test_an_unknown_platform_lists_the_known_ones(app):
    result = run(app, "show", "discord")
    assert result.exit_code == 2 and "'telegram', 'slack'" in result.output
