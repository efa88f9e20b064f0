"""Media in generic signed webhooks: each URL must pass GENERIC_CALLBACK_ALLOWLIST when the message comes and when the
worker fetches it (redirects too), and is fetched without credentials."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests import test_generic
from tests.fakes import Canned, FakePlatform
from tests.helpers import dead_letters, stored
from tests.samples_media import pdf, png, wav
from tests.test_generic import message, send

bot, env, fallback, receiver = test_generic.bot, test_generic.env, test_generic.fallback, test_generic.receiver  # its fixtures

FAILURE = "Sorry, I can't answer right now. Please try again in a few minutes."


@pytest.fixture
def files() -> Iterator[FakePlatform]:
    """The sending system's file store."""
    server = FakePlatform({"voice.wav": Canned(raw=wav(1), content_type="audio/wav"),
                           "menu.pdf": Canned(raw=pdf("Soup of the day"), content_type="application/pdf"),
                           "photo.png": Canned(raw=png(), content_type="image/png")}).start()
    yield server
    server.stop()


@pytest.fixture
def allowlist(files: FakePlatform) -> str:
    """GENERIC_CALLBACK_ALLOWLIST: the file store, listed exactly (so plain http to loopback is allowed)."""
    return files.url.removeprefix("http://")


def replies(receiver: FakePlatform) -> list[str]:
    return [call.body["data"]["text"] for call in receiver.requests]


def test_a_voice_note_and_a_document_are_fetched_without_credentials_and_read(client, run_worker, llm, receiver, files):
    media = [{"url": f"{files.url}/voice.wav", "content_type": "audio/wav"},
             {"url": f"{files.url}/menu.pdf", "content_type": "application/pdf", "name": "menu.pdf"}]
    assert send(client, message("what about these?", receiver, media=media)).status_code == 200
    run_worker()
    assert [call.method for call in files.requests] == ["voice.wav", "menu.pdf"]
    assert all("Authorization" not in call.headers and "webhook-signature" not in call.headers for call in files.requests)
    assert replies(receiver) == ["LLM: what about these?\nwhere is my parcel\n[document menu.pdf]\nSoup of the day"]


def test_a_photo_may_come_without_text(client, run_worker, llm, receiver, files):
    payload = message("", receiver, media=[{"url": f"{files.url}/photo.png"}])
    del payload["text"]
    assert send(client, payload).status_code == 200
    run_worker()
    assert llm.images[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert len(replies(receiver)) == 1


def test_the_bytes_not_the_content_type_decide_what_a_file_is(client, run_worker, llm, receiver, files):
    media = [{"url": f"{files.url}/photo.png", "content_type": "audio/ogg"}]
    assert send(client, message("", receiver, media=media)).status_code == 200
    run_worker()
    assert llm.transcriptions == [] and llm.images[0]["image_url"]["url"].startswith("data:image/png;base64,")


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data", "http://localhost:6379/", "file:///etc/passwd"])
def test_a_media_url_the_allowlist_refuses_is_400_and_nothing_is_stored(client, redis, receiver, url):
    response = send(client, message("look", receiver, media=[{"url": url}]))
    assert response.status_code == 400 and "media" in response.get_json()["error"]
    assert stored(redis) == []


def test_a_message_with_neither_text_nor_media_is_400(client, redis, receiver):
    response = send(client, message("", receiver, media=[]))
    assert response.status_code == 400 and "text" in response.get_json()["error"]


def test_a_redirect_off_the_allowlist_is_not_followed(client, run_worker, redis, receiver, files):
    elsewhere = files.url.replace("127.0.0.1", "localhost")  # the same store under a name not listed
    files.defaults["moved.png"] = Canned(status=302, headers={"Location": f"{elsewhere}/photo.png"})
    send(client, message("look", receiver, media=[{"url": f"{files.url}/moved.png"}]))
    run_worker()
    assert [call.method for call in files.requests] == ["moved.png"]
    assert replies(receiver) == [FAILURE] and "not in GENERIC_CALLBACK_ALLOWLIST" in dead_letters(redis)[0]["reason"]
