"""`flask send-sample`: a correctly signed sample event for every platform, accepted by the bot itself."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from handlers.platforms.registry import ADAPTERS
from tests.helpers import Bot

EVERY_PLATFORM = {
    "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "slack-secret",
    "WHATSAPP_ACCESS_TOKEN": "wa-token", "WHATSAPP_APP_SECRET": "wa-secret", "WHATSAPP_VERIFY_TOKEN": "wa-verify",
    "MESSENGER_PAGE_ACCESS_TOKEN": "fb-token", "MESSENGER_APP_SECRET": "fb-secret", "MESSENGER_VERIFY_TOKEN": "fb-verify",
    "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "twilio-token",
    "LINE_CHANNEL_SECRET": "line-secret", "LINE_CHANNEL_ACCESS_TOKEN": "line-token",
    "GENERIC_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "GENERIC_CALLBACK_URL": "https://crm.example.com/hook",
}


@pytest.fixture
def everywhere(settings) -> Bot:
    return Bot(settings, **EVERY_PLATFORM)


@pytest.mark.parametrize("platform", sorted(ADAPTERS))
def test_every_platforms_sample_is_accepted_as_genuine(everywhere, redis, platform):
    url = f"http://localhost/webhooks/{platform}"
    headers, body = everywhere.rt.channels[platform].sample(url, "sample text")
    response = everywhere.client.post(f"/webhooks/{platform}", data=body, headers=headers)
    assert response.status_code == 200, response.data
    assert redis.keys("bot:inbox:*"), "the sample was stored as a message"


def test_the_command_posts_to_a_running_instance(everywhere, redis):
    server = make_server("127.0.0.1", 0, everywhere.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        result = everywhere.app.test_cli_runner().invoke(args=["send-sample", "slack", "--url", url])
        assert result.exit_code == 0 and result.output.startswith("200")
        refused = everywhere.app.test_cli_runner().invoke(args=["send-sample", "myspace", "--url", url])
        assert refused.exit_code == 1 and "not enabled" in refused.output
    finally:
        server.shutdown()
