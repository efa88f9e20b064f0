"""Bodies no platform sends and no turn could take: refused at the door with a reason, never a 500 or a crashed turn."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import threading
from typing import Iterator

import pytest
from rq.registry import FailedJobRegistry
from werkzeug.serving import make_server

from app import create_app
from bot.messages import IncomingMessage
from tests.conftest import TELEGRAM_SECRET
from tests.helpers import Bot, dead_letters, stored, update
from tests.vendors import STANDARD_SECRET, signed_headers

API = {"Authorization": "Bearer api-token-for-tests"}
SESSION = "session-0123456789"
DEEP = "[" * 100_000


@pytest.fixture
def bot(settings) -> Bot:
    return Bot({**settings, "API_TOKEN": API["Authorization"][7:], "GENERIC_WEBHOOK_SECRET": STANDARD_SECRET,
                       "GENERIC_CALLBACK_URL": "http://127.0.0.1:9/replies"})


def kept(redis) -> list[bytes]:
    """What a refused request left in Redis, but for the chat page's rate counter, which counts every request."""
    return [key for key in stored(redis) if b":rate:" not in key]


def chat(text: str) -> str:
    """A chat-page message as raw JSON, escapes and all."""
    return '{"session": "%s", "message_id": "m-0000000001", "text": "%s"}' % (SESSION, text)


# Every JSON endpoint, each with what it takes to get past authentication: (path, headers for a body).
ENDPOINTS = {
    "chat page": lambda raw: ("/webhooks/webchat", {"Content-Type": "application/json"}),
    "telegram": lambda raw: ("/webhooks/telegram", signed_headers("telegram", raw)),
    "generic": lambda raw: ("/webhooks/webhook", signed_headers("webhook", raw)),
    "api messages": lambda raw: ("/api/messages", {"Content-Type": "application/json", **API}),
    "api pause": lambda raw: ("/api/conversations/telegram:1/pause", {"Content-Type": "application/json", **API}),
}


def post(client, endpoint: str, raw: str | bytes):
    raw = raw.encode() if isinstance(raw, str) else raw
    path, headers = ENDPOINTS[endpoint](raw)
    return client.post(path, data=raw, headers=headers)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("raw, reason", [
    (DEEP, "nests deeper than 64 levels"),
    ("[" * 65 + "]" * 65, "nests deeper than 64 levels"),
    ('{"text": "\\ud800"}', "not valid Unicode"),
    (b'{"text": "\xed\xa0\x80"}', "not valid Unicode"),  # the same surrogate as raw (invalid) UTF-8 bytes
    ('{"minutes": NaN}', "NaN"),
    ('{"minutes": 1e400}', "number too large"),
])
def test_json_no_platform_sends_is_400_with_a_reason_on_every_endpoint(client, redis, caplog, endpoint, raw, reason):
    response = post(client, endpoint, raw)
    assert response.status_code == 400, response.data
    assert reason in response.get_json()["error"]
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert kept(redis) == []


def test_nesting_within_the_limit_is_still_read(client):
    inner = "[" * 60 + "]" * 60
    assert post(client, "chat page", chat("hi")[:-1] + f', "extra": {inner}}}').status_code == 200


def test_a_lone_surrogate_is_refused_and_a_valid_pair_is_answered(client, redis, run_worker):
    refused = post(client, "chat page", chat("\\ud800"))
    assert refused.status_code == 400 and "surrogate" in refused.get_json()["error"]
    assert post(client, "generic", '{"conversation_id": "c1", "user_id": "\\udfff", "text": "hi"}').status_code == 400
    assert kept(redis) == []
    assert post(client, "chat page", chat("\\ud83d\\ude00")).status_code == 200  # an escaped pair is an emoji
    run_worker()
    assert client.get(f"/webchat/events?session={SESSION}&after=0").get_json()["replies"][0]["html"] == "LLM: \U0001F600"


def test_a_message_that_is_not_valid_unicode_is_repaired_before_any_turn_takes_it(app, redis, run_worker, telegram):
    """What comes without a webhook (polling, the terminal chat) is repaired: no lone surrogate reaches Redis or the LLM."""
    message = IncomingMessage("telegram", "1\udc80", "123456789", "42\ud800", "caf\udce9 \ud83d", user_name="\udfffAda",
                              context={"chat_id": 123456789, "chat_type": "private", "message_id": 1, "language": "e\ud800n",
                                       "nested": ["\ud800"]})
    assert message.text == "caf\ufffd \ufffd" and message.user_name == "\ufffdAda" and message.user_id == "42\ufffd"
    assert message.context["nested"] == ["\ufffd"] and IncomingMessage.from_json(message.to_json()) == message
    app.extensions["bot"].turns.accept(message, 60)
    run_worker()
    assert [sent["text"] for sent in telegram.sent] == ["LLM: caf\ufffd \ufffd"]
    assert FailedJobRegistry(queue=app.extensions["bot"].turns.queue).get_job_ids() == []
    assert dead_letters(redis) == []


@pytest.fixture
def served(app) -> Iterator[int]:
    """The app behind werkzeug's own HTTP server, which frames chunked bodies as a real client sends them."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()


def post_chunked(port: int, body: bytes, chunk: int = 65536, path: str = "/webhooks/telegram") -> int:
    """POST `body` to `path` with Transfer-Encoding: chunked and no Content-Length; the answer's status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the server answered and closed before reading it all:
        connection.request("POST", path, body=(body[i:i + chunk] for i in range(0, len(body), chunk)),
                           headers=headers, encode_chunked=True)  # its answer is still there to read
    return connection.getresponse().status


def test_a_chunked_body_over_the_limit_is_413_not_cut_short_and_accepted(served, redis):
    valid = json.dumps(update("hello")).encode()
    assert post_chunked(served, valid + b" " * 3_000_000) == 413
    assert stored(redis) == []
    assert post_chunked(served, valid + b" " * 1000) == 200  # chunked within the limit is read whole


def test_a_chunked_body_of_exactly_the_limit_is_read(settings, redis):
    small = create_app({**settings, "MAX_BODY_BYTES": "4096"})
    server = make_server("127.0.0.1", 0, small, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        valid = json.dumps(update("hello")).encode()
        assert post_chunked(server.server_port, valid.ljust(4096), chunk=1000) == 200
        assert post_chunked(server.server_port, valid.ljust(4097), chunk=1000) == 413
    finally:
        server.shutdown()

