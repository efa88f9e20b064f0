"""Twilio media end to end: MediaUrlN fetched from the API fake with the account's basic auth, its redirect followed to a
second fake (the media store) without the credentials, AMR voice notes converted to WAV before transcription."""

from __future__ import annotations

import base64
import io
import json
import logging
import wave
from typing import Iterator

import pytest

from bot.ops import ledger
from tests.fakes import Canned, FakePlatform
from tests.helpers import Bot, dead_letters
from tests.samples_media import amr, png
from tests.test_twilio import ACCOUNT_SID, inbound, whatsapp
from tests.vendors import TWILIO_TOKEN, post_twilio

FAILURE = "Sorry, I can't answer right now. Please try again in a few minutes."
LIMIT = "Sorry, that file is too large or too long for me to open."
BASIC = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{TWILIO_TOKEN}".encode()).decode()


@pytest.fixture
def store() -> Iterator[FakePlatform]:
    """Where Twilio's media URLs redirect: a storage host that wants no credentials."""
    server = FakePlatform({"ME1": Canned(raw=png(padding=1500), content_type="image/jpeg"),
                           "ME2": Canned(raw=amr(2), content_type="audio/amr")}).start()
    yield server
    server.stop()


@pytest.fixture
def twilio(store) -> Iterator[FakePlatform]:
    """Twilio's API: Messages.json sends; a media URL answers 307 to the store, as Twilio's do, with basic auth only."""
    def media(call):
        if call.headers.get("Authorization") != BASIC:
            return Canned(status=401, body={"code": 20003, "message": "Authenticate"})
        return Canned(status=307, headers={"Location": f"{store.url}/media/{call.method}"})
    sent = Canned(status=201, body={"sid": "SM" + "f" * 32})
    server = FakePlatform({"Messages.json": sent, "ME1": media, "ME2": media}).start()
    yield server
    server.stop()


@pytest.fixture
def env(settings, twilio) -> dict[str, str]:
    return {**settings, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_API_URL": twilio.url,
            "PLATFORM_MAX_RETRIES": "1"}


@pytest.fixture
def bot(env):
    return Bot(env)


def media_url(twilio: FakePlatform, media_sid: str) -> str:
    return f"{twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM1/Media/{media_sid}"


def bodies(twilio: FakePlatform) -> list[str]:
    return [body["Body"] for body in twilio.calls("Messages.json")]


def test_a_photo_is_fetched_with_basic_auth_and_its_redirect_followed_without_it(client, run_worker, llm, twilio, store):
    form = inbound("what is this?", NumMedia="1", MediaUrl0=media_url(twilio, "ME1"), MediaContentType0="image/jpeg")
    assert post_twilio(client, form).status_code == 200
    run_worker()
    [asked] = [call for call in twilio.requests if call.method == "ME1"]
    [served] = store.requests
    assert asked.headers["Authorization"] == BASIC
    assert "Authorization" not in served.headers and TWILIO_TOKEN not in str(served)  # requests drops it on another host
    assert llm.images[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert bodies(twilio)[0].startswith("LLM: what is this? [image")


def test_an_amr_voice_note_is_converted_to_wav_and_transcribed(client, run_worker, redis, llm, twilio, store):
    form = whatsapp("", NumMedia="1", MediaUrl0=media_url(twilio, "ME2"), MediaContentType0="audio/amr")
    post_twilio(client, form)
    run_worker()
    [upload] = llm.transcriptions
    name, data, content_type = upload["file"]
    assert (name, content_type) == ("voice.wav", "audio/x-wav")
    with wave.open(io.BytesIO(data)) as converted:  # the endpoint takes WAV; it refuses .amr
        assert (converted.getframerate(), converted.getnchannels()) == (16000, 1)
        assert 1.9 < converted.getnframes() / converted.getframerate() < 2.1
    assert bodies(twilio) == ["LLM: where is my parcel"]
    assert ledger.lookup(redis, "twilio", form["MessageSid"])["outcome"] == "replied"


def test_an_amr_voice_note_longer_than_the_limit_gets_the_notice(env, llm, twilio, store):
    bot = Bot(env, AUDIO_MAX_SECONDS="1")
    post_twilio(bot.client, whatsapp("", NumMedia="1", MediaUrl0=media_url(twilio, "ME2"), MediaContentType0="audio/amr"))
    bot.run()
    assert bodies(twilio) == [LIMIT] and llm.transcriptions == []


def test_a_media_url_off_the_api_host_is_not_fetched_with_the_credentials(client, run_worker, redis, twilio, store):
    form = inbound("", NumMedia="1", MediaUrl0=f"{store.url}/media/ME1", MediaContentType0="image/jpeg")
    post_twilio(client, form)
    run_worker()
    assert store.requests == [] and bodies(twilio) == [FAILURE]
    assert "not TWILIO_API_URL's host" in dead_letters(redis)[0]["reason"]


def test_several_media_are_read_in_order(client, run_worker, llm, twilio, store):
    form = inbound("", NumMedia="2", MediaUrl0=media_url(twilio, "ME2"), MediaContentType0="audio/amr",
                   MediaUrl1=media_url(twilio, "ME1"), MediaContentType1="image/jpeg")
    post_twilio(client, form)
    run_worker()
    [content] = [message["content"] for message in llm.completions[0]["messages"] if message["role"] == "user"]
    assert [part["type"] for part in content] == ["text", "image_url"] and content[0]["text"] == "where is my parcel"


def test_logs_and_the_ledger_keep_kinds_and_sizes_never_the_content_or_its_link(client, run_worker, redis, llm, twilio, store,
                                                                                 caplog):
    url = media_url(twilio, "ME2")
    form = whatsapp("", NumMedia="1", MediaUrl0=url, MediaContentType0="audio/amr")
    post_twilio(client, form)
    with caplog.at_level(logging.INFO):
        run_worker()
    fetched = next(record for record in caplog.records if record.getMessage() == "media fetched")
    converted = next(record for record in caplog.records if record.getMessage() == "audio converted")
    assert (fetched.kind, fetched.type, fetched.bytes) == ("audio", "audio/amr", len(amr(2)))
    assert converted.converted_bytes == len(llm.transcriptions[0]["file"][1])
    logged = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    assert llm.transcript not in logged and url not in logged and TWILIO_TOKEN not in logged
    outcome = json.dumps(ledger.lookup(redis, "twilio", form["MessageSid"]))
    assert "replied" in outcome and llm.transcript not in outcome and "ME2" not in outcome
