"""The Procfile's web command for real (gunicorn with gunicorn.conf.py): its access log, its limits, its proxy trust."""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

import pytest

from bench.servers import PROCFILE_APP, web_server
from tests.business import MAILCHIMP_KEY
from tests.helpers import APP_SECRET, VERIFY_TOKEN
from tests.vendors import TWILIO_TOKEN, twilio_signature

SESSION = "session-0123456789"
FORGED = "2026-01-01 00:00:00,000 ERROR bot.turns: forged"


@pytest.fixture
def serve(settings: dict[str, str], tmp_path: Path) -> Iterator:
    """Start the web server with `settings` and extra variables; its output is in tmp_path/web.log, read once it stopped."""
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log:
        def start(**extra: str):
            return web_server(PROCFILE_APP, {**settings, "HOME": str(tmp_path), **extra}, access_log=True, log=log)
        yield start


def get(port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET", body: bytes | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_access_log_has_paths_without_queries_escaped_controls_and_the_client_s_address(serve, tmp_path):
    with serve(MESSENGER_PAGE_ACCESS_TOKEN="page-token", MESSENGER_APP_SECRET=APP_SECRET,
               MESSENGER_VERIFY_TOKEN=VERIFY_TOKEN) as port:
        assert not (tmp_path / ".gunicorn").exists()  # no control socket: instances on one machine would displace it
        handshake = f"/webhooks/messenger?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
        assert get(port, handshake) == 200
        assert get(port, f"/webchat/events?session={SESSION}&after=0", {"Referer": f"http://bot/chat?session={SESSION}"}) == 200
        assert get(port, "/healthz", {"User-Agent": "probe\x9b2J\x85", "X-Forwarded-For": "203.0.113.9"}) == 200
    logged = (tmp_path / "web.log").read_text(errors="replace")
    assert VERIFY_TOKEN not in logged and SESSION not in logged
    assert '"GET /webhooks/messenger HTTP/1.1" 200' in logged and '"GET /webchat/events HTTP/1.1" 200' in logged
    assert '"http://bot/chat"' in logged
    assert '203.0.113.9 - - [' in logged  # the router's client, as TRUSTED_PROXIES=1 has it
    assert '"probe\\x9b2J\\x85"' in logged and "\x9b" not in logged and "\x85" not in logged



def test_no_log_line_holds_the_key_of_mailchimp_s_url(serve, tmp_path):
    form = {"type": "subscribe", "data[email]": "ada@example.com", "data[x]]": "a field Mailchimp never sends"}
    with serve(MAILCHIMP_WEBHOOK_KEY=MAILCHIMP_KEY) as port:
        assert get(port, f"/events/mailchimp/{MAILCHIMP_KEY}?ping=1") == 200
        assert get(port, f"/events/mailchimp%2F{MAILCHIMP_KEY}") == 200  # the slash encoded: the same route
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        assert get(port, f"/events/mailchimp/{MAILCHIMP_KEY}", headers, "POST", urlencode(form).encode()) == 400
    logged = (tmp_path / "web.log").read_text(errors="replace")
    assert MAILCHIMP_KEY not in logged
    assert '"GET /events/mailchimp/<key> HTTP/1.1" 200' in logged and "request rejected" in logged

def test_no_url_path_forges_a_line_of_the_text_log(serve, tmp_path):
    with serve(LOG_FORMAT="text") as port:
        assert get(port, "/webhooks/x%0D%0A" + FORGED.replace(" ", "%20")) == 404
    lines = (tmp_path / "web.log").read_text().splitlines()
    assert any("unknown platform x\\r\\n" + FORGED in line for line in lines)
    assert not any(line.startswith(FORGED) for line in lines)


def test_facing_clients_directly_gunicorn_believes_no_forwarded_proto_either_and_bounds_the_headers(serve):
    with serve(TRUSTED_PROXIES="0", TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN=TWILIO_TOKEN) as port:
        def post_twilio(form: dict[str, str], signed_for: str) -> int:
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-Proto": "https",
                       "X-Twilio-Signature": twilio_signature(form, f"{signed_for}://127.0.0.1:{port}/webhooks/twilio")}
            return get(port, "/webhooks/twilio", headers, "POST", urlencode(form).encode())

        form = {"MessageSid": "SM" + "1" * 32, "From": "+14155551234", "To": "+15557654321", "Body": "hi"}
        assert post_twilio(form, "https") == 403
        assert post_twilio(form, "http") == 200
        assert get(port, "/healthz", {f"X-Header-{n}": "1" for n in range(60)}) == 431  # limit_request_fields
