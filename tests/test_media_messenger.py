"""Messenger attachments end to end: the webhook keeps the CDN link, the worker fetches it from the CDN fake without the
Page token, from MESSENGER_MEDIA_HOSTS only, and the turn ends in one outcome."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from bot.ops import ledger
from tests import test_generic
from tests.fakes import Canned, FakePlatform
from tests.helpers import APP_SECRET, VERIFY_TOKEN, Bot, dead_letters, post_signed
from tests.samples_media import png, wav
from tests.test_messenger import ADA, NOW, PAGE, PAGE_TOKEN, notification, sends

rebinding_dns = test_generic.rebinding_dns  # its fixture

FAILURE = "Sorry, I can't answer right now. Please try again in a few minutes."
LIMIT = "Sorry, that file is too large or too long for me to open."


@pytest.fixture
def messenger():
    server = FakePlatform({"messages": Canned(body={"recipient_id": ADA, "message_id": "m_1"})}).start()
    yield server
    server.stop()


@pytest.fixture
def cdn():
    """Meta's CDN: serves files by name, to anyone who has the link."""
    server = FakePlatform({"cat.jpg": Canned(raw=png(padding=2000), content_type="image/jpeg"),
                           "clip.mp4": Canned(raw=wav(2), content_type="audio/mpeg")}).start()
    yield server
    server.stop()


@pytest.fixture
def env(settings, messenger, cdn) -> dict[str, str]:
    return {**settings, "MESSENGER_PAGE_ACCESS_TOKEN": PAGE_TOKEN, "MESSENGER_APP_SECRET": APP_SECRET,
            "MESSENGER_VERIFY_TOKEN": VERIFY_TOKEN, "MESSENGER_API_URL": f"{messenger.url}/v21.0", "PLATFORM_MAX_RETRIES": "1",
            "MESSENGER_MEDIA_HOSTS": cdn.url.removeprefix("http://")}


@pytest.fixture
def bot(env):
    return Bot(env)


def attachment(kind: str, url: str, mid: str = "m_At1", **payload: Any) -> dict[str, Any]:
    """A user's message carrying one attachment (contracts-next 1.3)."""
    message = {"mid": mid, "attachments": [{"type": kind, "payload": {"url": url, **payload}}]}
    return notification({"sender": {"id": ADA}, "recipient": {"id": PAGE}, "timestamp": NOW * 1000 + 100, "message": message})


def replies(messenger: FakePlatform) -> list[str]:
    return [call.body["message"]["text"] for call in sends(messenger)]


def test_a_photo_is_fetched_from_the_cdn_without_the_page_token(client, run_worker, redis, llm, messenger, cdn):
    post_signed(client, "messenger", attachment("image", f"{cdn.url}/v/t1.15752-9/cat.jpg?oh=00_AfB&oe=6790"))
    run_worker()
    [download] = cdn.requests
    assert "Authorization" not in download.headers and PAGE_TOKEN not in str(download)
    assert llm.images[0]["image_url"]["url"].startswith("data:image/png;base64,")  # the bytes decide, not the CDN's type
    assert replies(messenger)[0].startswith("LLM: [image")
    assert ledger.lookup(redis, "messenger", "m_At1")["outcome"] == "replied"


def test_a_voice_clip_is_transcribed(client, run_worker, llm, messenger, cdn):
    post_signed(client, "messenger", attachment("audio", f"{cdn.url}/v/t59.3654-21/clip.mp4"))
    run_worker()
    assert llm.transcriptions[0]["file"][0] == "voice.wav"
    assert replies(messenger) == ["LLM: where is my parcel"]


def test_stickers_and_video_are_not_fetched(client, run_worker, messenger, cdn):
    payload = attachment("image", f"{cdn.url}/cat.jpg", sticker_id=369239263222822)
    video = {"type": "video", "payload": {"url": f"{cdn.url}/cat.jpg"}}
    payload["entry"][0]["messaging"][0]["message"]["attachments"].append(video)
    post_signed(client, "messenger", payload)
    run_worker()
    assert cdn.requests == [] and replies(messenger) == ["Sorry, I can only read text messages."]


@pytest.mark.parametrize("hosts", [None, "127.0.0.2"])
def test_a_link_to_a_host_not_in_the_media_hosts_is_never_fetched(env, llm, messenger, cdn, hosts):
    """A payload pointing the worker at another host (by default, any but Meta's CDNs) fetches nothing."""
    bot = Bot({key: value for key, value in env.items() if key != "MESSENGER_MEDIA_HOSTS"}
              | ({"MESSENGER_MEDIA_HOSTS": hosts} if hosts else {}))
    post_signed(bot.client, "messenger", attachment("image", f"{cdn.url}/cat.jpg"))
    bot.run()
    assert cdn.requests == [] and llm.completions == []
    assert replies(messenger) == [FAILURE]
    assert "not in MESSENGER_MEDIA_HOSTS" in dead_letters(bot.rt.redis)[0]["reason"]


def test_a_cdn_host_resolving_to_an_internal_address_is_refused_as_it_connects(env, llm, messenger, cdn, rebinding_dns):
    port = cdn.server.server_port
    bot = Bot(env | {"MESSENGER_MEDIA_HOSTS": f"*.example.com:{port}"})  # a wildcard: its hosts must be public
    post_signed(bot.client, "messenger", attachment("image", f"https://cdn.example.com:{port}/cat.jpg"))
    bot.run()
    assert cdn.requests == [] and llm.completions == [] and replies(messenger) == [FAILURE]
    assert "resolved to 127.0.0.1, an internal address" in dead_letters(bot.rt.redis)[0]["reason"]


def test_a_redirect_off_the_media_hosts_is_not_followed(client, run_worker, redis, messenger, cdn):
    elsewhere = cdn.url.replace("127.0.0.1", "localhost")  # the same fake under a name not listed
    cdn.defaults["moved.jpg"] = Canned(status=302, headers={"Location": f"{elsewhere}/cat.jpg"})
    post_signed(client, "messenger", attachment("image", f"{cdn.url}/moved.jpg"))
    run_worker()
    assert [call.method for call in cdn.requests] == ["moved.jpg"]
    assert replies(messenger) == [FAILURE] and "redirect refused" in dead_letters(redis)[0]["reason"]


def test_a_body_of_undeclared_size_stops_one_byte_past_the_limit(env, redis, llm, messenger, cdn):
    """The CDN sends no Content-Length and one byte over MEDIA_MAX_BYTES, then holds the connection open: a download
    that read (or waited) past the limit would time out instead of giving the notice."""
    bot = Bot(env, MEDIA_MAX_BYTES="1000", PLATFORM_TIMEOUT="3")
    cdn.defaults["endless.jpg"] = Canned(raw=png(padding=2000)[:1001], content_type="image/jpeg", open_ended=True)
    post_signed(bot.client, "messenger", attachment("image", f"{cdn.url}/endless.jpg"))
    bot.run()
    assert replies(messenger) == [LIMIT] and llm.completions == []
    assert ledger.lookup(redis, "messenger", "m_At1")["outcome"] == "notice" and dead_letters(redis) == []


def test_a_gzip_bomb_stops_at_the_limit_counted_in_bytes_unpacked(env, redis, llm, messenger, cdn):
    bot = Bot(env, MEDIA_MAX_BYTES="100000")
    bomb = gzip.compress(png() + bytes(50 * 1024 * 1024), compresslevel=9)  # 50 KB on the wire, 50 MiB unpacked
    cdn.defaults["bomb.jpg"] = Canned(raw=bomb, content_type="image/jpeg", headers={"Content-Encoding": "gzip"})
    post_signed(bot.client, "messenger", attachment("image", f"{cdn.url}/bomb.jpg"))
    bot.run()
    assert replies(messenger) == [LIMIT] and llm.completions == []


def test_a_body_that_stalls_before_its_end_is_tried_again_then_dead_lettered(env, redis, messenger, cdn):
    bot = Bot(env, PLATFORM_TIMEOUT="1")
    cdn.defaults["stalled.jpg"] = Canned(raw=png()[:20], content_type="image/jpeg", open_ended=True)
    post_signed(bot.client, "messenger", attachment("image", f"{cdn.url}/stalled.jpg"))
    bot.run()
    assert len(cdn.requests) == 2 and replies(messenger) == [FAILURE]  # PLATFORM_MAX_RETRIES=1
    assert "cut off" in dead_letters(redis)[0]["reason"]
