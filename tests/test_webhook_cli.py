"""flask webhook set | show | delete PLATFORM, against local fakes of each platform's API."""

from __future__ import annotations

import base64
from typing import Iterator

import pytest

from tests.fakes import Canned, FakePlatform, telegram_error
from tests.helpers import APP_SECRET, TELEGRAM_SECRET, TELEGRAM_TOKEN, VERIFY_TOKEN, Bot, graph_error

PUBLIC = "https://bot.example.com"
LINE_TOKEN = "line-channel-access-token"
TWILIO_SID, TWILIO_TOKEN = "AC0123456789abcdef0123456789abcdef", "twilio-auth-token"
NUMBER, NUMBER_SID = "+15557654321", "PN0123456789abcdef0123456789abcdef"
APP_ID, PAGE_TOKEN = "1234567890", "EAAJB-page-token"
NUMBERS = f"/2010-04-01/Accounts/{TWILIO_SID}/IncomingPhoneNumbers"


def subscription(kind: str, platform: str) -> dict:
    """One entry of GET /{app-id}/subscriptions."""
    return {"object": kind, "callback_url": f"{PUBLIC}/webhooks/{platform}", "active": True,
            "fields": [{"name": "messages", "version": "v21.0"}]}


DEFAULTS = {  # each API's answer, by the last segment of the path
    "endpoint": Canned(body={"endpoint": f"{PUBLIC}/webhooks/line", "active": True}),
    "test": Canned(body={"success": True, "timestamp": "2026-01-01T00:00:00.000Z", "statusCode": 200, "reason": "OK",
                         "detail": "200"}),
    "IncomingPhoneNumbers.json": Canned(body={"incoming_phone_numbers": [
        {"sid": NUMBER_SID, "phone_number": NUMBER, "sms_url": f"{PUBLIC}/webhooks/twilio", "sms_method": "POST"}]}),
    "subscriptions": Canned(body={"data": [subscription("page", "messenger")]}),
    "subscribed_apps": Canned(body={"success": True}),
}


@pytest.fixture
def api() -> Iterator[FakePlatform]:
    """LINE's, Twilio's and the Graph API, on one local server: each test speaks to one of them."""
    server = FakePlatform(DEFAULTS).start()
    yield server
    server.stop()


@pytest.fixture
def bot(settings: dict[str, str], api: FakePlatform):
    return Bot({**settings, "LINE_CHANNEL_SECRET": "line-secret", "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
                "LINE_API_URL": api.url, "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
                "TWILIO_PHONE_NUMBER": NUMBER, "TWILIO_API_URL": api.url,
                **meta("WHATSAPP", "WHATSAPP_ACCESS_TOKEN", api), **meta("MESSENGER", "MESSENGER_PAGE_ACCESS_TOKEN", api)})


def meta(prefix: str, token_setting: str, api: FakePlatform) -> dict[str, str]:
    """The settings of a Meta platform whose Graph API is the fake, with the app id the webhook commands need."""
    return {token_setting: PAGE_TOKEN, f"{prefix}_APP_SECRET": APP_SECRET, f"{prefix}_VERIFY_TOKEN": VERIFY_TOKEN,
            f"{prefix}_APP_ID": APP_ID, f"{prefix}_API_URL": f"{api.url}/v21.0"}


def run(app, *args: str):
    """Run `flask webhook ARGS` the way an operator would."""
    return app.test_cli_runner().invoke(args=["webhook", *args])


def seen(fake: FakePlatform) -> list[tuple[str, str, object]]:
    """What the platform received: verb, path with the query, parsed body."""
    return [(call.verb, call.path, call.body) for call in fake.requests]


def auth(fake: FakePlatform) -> set[str]:
    """The Authorization headers the platform received."""
    return {call.headers.get("Authorization", "") for call in fake.requests}


# Telegram: the Bot API, the token in the path (docs/platforms.md 1.1)


def test_telegram_set_registers_url_secret_and_updates(app, telegram):
    result = run(app, "set", "telegram", PUBLIC)
    assert (result.exit_code, result.output) == (0, f"Webhook set: {PUBLIC}/webhooks/telegram\n")
    [call] = telegram.requests
    assert (call.verb, call.path) == ("POST", f"/bot{TELEGRAM_TOKEN}/setWebhook")
    assert call.body == {"url": f"{PUBLIC}/webhooks/telegram", "secret_token": TELEGRAM_SECRET, "allowed_updates": ["message"]}


def test_set_defaults_to_public_base_url_and_keeps_a_full_webhook_url(settings, telegram):
    b = Bot({**settings, "PUBLIC_BASE_URL": f"{PUBLIC}/webhooks/telegram/"})
    assert run(b.app, "set", "telegram").exit_code == 0
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
    assert (result.exit_code, result.output) == (1, "Error: Telegram setWebhook failed (401): Unauthorized; "
                                                 "check TELEGRAM_BOT_TOKEN (the token @BotFather gave the bot)\n")


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


def test_a_platform_not_enabled_names_its_missing_variables(settings):
    result = run(Bot(settings).app, "show", "line")
    assert (result.exit_code, result.output) == (
        1, "Error: line is not enabled here: set LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN\n")


def test_an_unknown_platform_lists_the_known_ones(app):
    result = run(app, "show", "discord")
    assert result.exit_code == 2 and "'telegram', 'slack'" in result.output


# LINE: the channel's webhook endpoint, with the channel access token (Messaging API reference)


def test_line_set_saves_the_url_then_has_line_test_it(app, api):
    result = run(app, "set", "line", PUBLIC)
    assert (result.exit_code, result.output) == (0, f"Webhook set: {PUBLIC}/webhooks/line\n")
    assert seen(api) == [("PUT", "/v2/bot/channel/webhook/endpoint", {"endpoint": f"{PUBLIC}/webhooks/line"}),
                         ("POST", "/v2/bot/channel/webhook/test", {"endpoint": f"{PUBLIC}/webhooks/line"})]
    assert auth(api) == {f"Bearer {LINE_TOKEN}"}


def test_line_set_fails_when_the_test_delivery_fails(app, api):
    api.then(Canned(body={}), Canned(body={"success": False, "timestamp": "2026-01-01T00:00:00.000Z", "statusCode": 404,
                                           "reason": "Not Found", "detail": "404"}))
    result = run(app, "set", "line", PUBLIC)
    assert (result.exit_code, result.output) == (
        1, "Error: LINE saved the webhook URL, but its test delivery failed (404 Not Found): 404\n")


def test_line_show(app, api):
    result = run(app, "show", "line")
    assert (result.exit_code, result.output) == (0, f"active: True\nendpoint: {PUBLIC}/webhooks/line\n")
    assert seen(api) == [("GET", "/v2/bot/channel/webhook/endpoint", {})]


def test_line_delete_says_where_to_turn_the_webhook_off(app, api):
    result = run(app, "delete", "line")
    assert (result.exit_code, result.output) == (1, "Error: LINE has no API to remove the webhook: turn off Use webhook "
                                                    "under Messaging API → Webhook settings in the LINE Developers Console\n")
    assert api.requests == []


def test_line_refusal_names_the_token_to_check(app, api):
    api.then(Canned(401, {"message": "Authentication failed. Confirm that the access token in the authorization header "
                                     "is valid."}))
    result = run(app, "set", "line", PUBLIC)
    assert (result.exit_code, result.output) == (
        1, "Error: LINE webhook endpoint failed (401): the channel access token was refused; check LINE_CHANNEL_ACCESS_TOKEN\n")
    assert len(api.requests) == 1


# Twilio: the webhook is a setting of the phone number, found by its E.164 form (IncomingPhoneNumber resource)


def test_twilio_set_finds_the_number_and_sets_its_sms_url(app, api):
    result = run(app, "set", "twilio", PUBLIC)
    assert (result.exit_code, result.output) == (0, f"Webhook set: {PUBLIC}/webhooks/twilio\n")
    assert seen(api) == [("GET", f"{NUMBERS}.json?PhoneNumber=%2B15557654321", {}),
                         ("POST", f"{NUMBERS}/{NUMBER_SID}.json", {"SmsUrl": f"{PUBLIC}/webhooks/twilio", "SmsMethod": "POST"})]
    assert auth(api) == {"Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()}


def test_twilio_show(app, api):
    result = run(app, "show", "twilio")
    assert result.output == f"phone_number: {NUMBER}\nsms_method: POST\nsms_url: {PUBLIC}/webhooks/twilio\n"
    assert [verb for verb, _, _ in seen(api)] == ["GET"]


def test_twilio_delete_clears_the_sms_url(app, api):
    result = run(app, "delete", "twilio")
    assert (result.exit_code, result.output) == (0, "Webhook deleted.\n")
    update = api.requests[1]
    assert (update.verb, update.path, update.raw) == ("POST", f"{NUMBERS}/{NUMBER_SID}.json", b"SmsUrl=")


def test_twilio_number_must_be_in_the_account(app, api):
    api.then(Canned(body={"incoming_phone_numbers": []}))
    assert run(app, "show", "twilio").output == f"Error: the Twilio account has no number {NUMBER}: check TWILIO_PHONE_NUMBER\n"


def test_twilio_needs_the_number(settings, api):
    b = Bot({**settings, "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_API_URL": api.url})
    assert run(b.app, "show", "twilio").output == (
        "Error: set TWILIO_PHONE_NUMBER to the number whose webhook to manage, in E.164 (+15551234567)\n")
    assert api.requests == []


def test_twilio_refusal_names_the_credentials(app, api):
    api.then(Canned(401, {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003",
                          "status": 401}))
    result = run(app, "set", "twilio", PUBLIC)
    assert (result.exit_code, result.output) == (1, "Error: Twilio IncomingPhoneNumbers failed (HTTP 401, error 20003): "
                                                    "Authenticate; check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN\n")
    assert len(api.requests) == 1


# WhatsApp and Messenger: the app's webhook subscriptions, with the app access token (Graph API /{app-id}/subscriptions)


def test_whatsapp_set_subscribes_the_app_with_its_own_token(app, api):
    result = run(app, "set", "whatsapp", PUBLIC)
    assert (result.exit_code, result.output) == (0, f"Webhook set: {PUBLIC}/webhooks/whatsapp\n")
    assert seen(api) == [("POST", f"/v21.0/{APP_ID}/subscriptions", {
        "object": "whatsapp_business_account", "callback_url": f"{PUBLIC}/webhooks/whatsapp", "verify_token": VERIFY_TOKEN,
        "fields": "messages"})]
    assert auth(api) == {f"Bearer {APP_ID}|{APP_SECRET}"}


def test_messenger_set_subscribes_the_app_then_the_page(app, api):
    assert run(app, "set", "messenger", PUBLIC).exit_code == 0
    assert [(verb, path) for verb, path, _ in seen(api)] == [("POST", f"/v21.0/{APP_ID}/subscriptions"),
                                                            ("POST", "/v21.0/me/subscribed_apps")]
    assert seen(api)[0][2]["fields"] == seen(api)[1][2]["subscribed_fields"] == "messages,messaging_postbacks"
    assert api.requests[1].headers["Authorization"] == f"Bearer {PAGE_TOKEN}"


def test_meta_show_picks_the_platforms_subscription(app, api):
    api.then(Canned(body={"data": [subscription("page", "messenger"), subscription("whatsapp_business_account", "whatsapp")]}))
    result = run(app, "show", "whatsapp")
    assert result.output == f"active: True\ncallback_url: {PUBLIC}/webhooks/whatsapp\nfields: messages\n"
    assert seen(api) == [("GET", f"/v21.0/{APP_ID}/subscriptions", {})]
    assert run(app, "show", "whatsapp").output == "No webhook set.\n"  # the default answer holds only the Page's


def test_meta_delete_unsubscribes_the_platforms_object(app, api):
    api.then(Canned(body={"success": True}))
    assert run(app, "delete", "messenger").output == "Webhook deleted.\n"
    assert seen(api) == [("DELETE", f"/v21.0/{APP_ID}/subscriptions?object=page", {})]


def test_meta_set_explains_a_failed_callback_check(app, api):
    api.then(graph_error(400, 2200, "(#2200) Callback verification failed with the following errors: HTTP Status Code = 403"))
    result = run(app, "set", "whatsapp", PUBLIC)
    assert (result.exit_code, result.output) == (1, (
        "Error: Meta could not verify the callback URL ((#2200) Callback verification failed with the following errors: "
        "HTTP Status Code = 403): this app must be running there, reachable over HTTPS, with the same WHATSAPP_VERIFY_TOKEN\n"))


def test_meta_refusal_names_the_app_credentials(app, api):
    api.then(graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token"))
    result = run(app, "show", "messenger")
    assert (result.exit_code, result.output) == (1, (
        "Error: Messenger API refused the call (HTTP 400, code 190): Invalid OAuth access token - Cannot parse access token; "
        "check MESSENGER_APP_ID and MESSENGER_APP_SECRET\n"))


def test_meta_needs_the_app_id(settings, api):
    b = Bot({**settings, **meta("WHATSAPP", "WHATSAPP_ACCESS_TOKEN", api), "WHATSAPP_APP_ID": ""})
    assert run(b.app, "show", "whatsapp").output == (
        "Error: set WHATSAPP_APP_ID (App settings → Basic → App ID) to manage the webhook from here\n")
    assert api.requests == []
