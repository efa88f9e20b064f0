"""The chat page's photos and voice notes: uploaded, referred to by a message, read by the worker, deleted with the turn."""

from __future__ import annotations

import json
import threading

import pytest
from rq.job import Job
from werkzeug.serving import make_server

from bot.ops import ledger
from tests.fakes import openai_error
from tests.helpers import Bot, dead_letters
from tests.samples_media import png, wav, webm
from tests.test_bodies import post_chunked
from tests.test_webchat import SESSION, events

MiB = 1024 * 1024
UPLOADS = "bot:channel:webchat:upload:*"


def upload(client, data: bytes, session: str = SESSION, content_type: str = "application/octet-stream", **request):
    """POST a file as the page does; the browser's content type is a guess the server ignores."""
    return client.post(f"/webchat/upload?session={session}", data=data, content_type=content_type, **request)


def send(client, ref: str, text: str = "", message_id: str = "m-0000000001", **fields):
    body = {"session": SESSION, "message_id": message_id, "text": text, "upload": ref, **fields}
    return client.post("/webhooks/webchat", json=body)


def replies(client) -> list[str]:
    return [reply["html"] for reply in events(client)["replies"]]


def test_a_photo_reaches_the_model_and_is_deleted_when_its_turn_ends(client, redis, llm, run_worker):
    image = png(padding=3000)
    answer = upload(client, image, content_type="text/plain")  # the bytes decide what it is, not the browser
    assert answer.status_code == 200 and answer.get_json()["kind"] == "image"
    ref = answer.get_json()["upload"]
    key = f"bot:channel:webchat:upload:{ref}"
    assert 0 < redis.ttl(key) <= 120  # the backstop, should no message refer to it
    assert send(client, ref, "is this broken?").status_code == 200
    assert 120 < redis.ttl(key) <= 900  # the backstop, should its turn never end
    jobs = [Job.fetch(key.decode().split(":")[2], connection=redis) for key in redis.scan_iter("rq:job:*")
            if key.count(b":") == 2]
    assert jobs and not any(ref in repr(job.args) or "broken" in repr(job.args) for job in jobs)  # the inbox holds the message
    run_worker()
    [part] = llm.images
    assert part["image_url"]["url"].startswith("data:image/png;base64,")
    assert replies(client)[0].startswith("LLM: is this broken? [image")
    assert redis.keys(UPLOADS) == []


def test_a_voice_note_is_transcribed_and_deleted_with_its_turn(client, redis, llm, run_worker):
    ref = upload(client, wav(2)).get_json()["upload"]
    send(client, ref, seconds=2.0)
    run_worker()
    [transcription] = llm.transcriptions
    assert transcription["file"][0] == "voice.wav"
    assert replies(client) == ["LLM: where is my parcel"]
    history = [json.loads(entry) for entry in redis.lrange(f"bot:history:webchat:{SESSION}", 0, -1)]
    assert history[0] == {"role": "user", "content": "[voice note] where is my parcel"}
    assert redis.keys(UPLOADS) == []


def test_a_voice_note_longer_than_the_limit_gets_the_notice_whatever_length_the_page_claims(settings, redis, llm):
    bot = Bot(settings, AUDIO_MAX_SECONDS="2")
    send(bot.client, upload(bot.client, webm(5)).get_json()["upload"], seconds=1.0)  # WebM states no length of its own
    bot.run()
    assert replies(bot.client) == ["Sorry, that file is too large or too long for me to open."] and llm.transcriptions == []


def test_offline_the_stand_in_names_the_photo_and_the_voice_note(settings, redis):
    bot = Bot(settings, OPENAI_API_KEY="", OPENAI_BASE_URL="")
    send(bot.client, upload(bot.client, png(padding=120_000)).get_json()["upload"])
    send(bot.client, upload(bot.client, wav(4)).get_json()["upload"], message_id="m-0000000002")
    bot.run()
    assert replies(bot.client) == ["(offline model) you said: a photo of 120 KB / a voice note of 4 s"]


def test_a_file_over_the_pages_limit_is_413_saying_so_though_the_webhooks_limit_is_lower(settings, redis):
    client = Bot(settings, WEBCHAT_UPLOAD_MAX_BYTES=str(2 * MiB)).client
    assert upload(client, png(padding=int(1.5 * MiB))).status_code == 200  # over MAX_BODY_BYTES: not this route's limit
    refused = upload(client, png(padding=2 * MiB))
    assert refused.status_code == 413 and "WEBCHAT_UPLOAD_MAX_BYTES" in refused.get_json()["error"]
    assert len(redis.keys(UPLOADS)) == 1
    text = client.post("/webhooks/webchat", json={"session": SESSION, "message_id": "m-0000000001", "text": "x" * (MiB + 10)})
    assert text.status_code == 413 and "MAX_BODY_BYTES" in text.get_json()["error"]  # the messages keep theirs


def test_a_chunked_upload_is_held_to_the_pages_limit_not_the_webhooks(settings, redis):
    app = Bot(settings, WEBCHAT_UPLOAD_MAX_BYTES=str(2 * MiB)).app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = f"/webchat/upload?session={SESSION}"
        assert post_chunked(server.server_port, png(padding=int(1.5 * MiB)), path=path) == 200
        assert post_chunked(server.server_port, png(padding=2 * MiB), path=path) == 413
    finally:
        server.shutdown()
    assert len(redis.keys(UPLOADS)) == 1


def test_only_photos_and_audio_are_taken(client, redis):
    for data in (b"just some text", b"%PDF-1.4 not a photo", b""):
        answer = upload(client, data, content_type="image/png")
        assert answer.status_code == 415 and answer.get_json()["error"] == "Only photos and voice notes can be sent here."
    assert redis.keys(UPLOADS) == []


@pytest.mark.parametrize("headers", [{"Origin": "https://elsewhere.example"}, {"Sec-Fetch-Site": "cross-site"}])
def test_another_sites_page_can_neither_upload_nor_send(client, redis, headers):
    assert upload(client, png(), headers=headers).status_code == 403
    message = {"session": SESSION, "message_id": "m-0000000001", "text": "hi"}
    assert client.post("/webhooks/webchat", json=message, headers=headers).status_code == 403
    assert redis.keys("bot:channel:webchat:*") == [] and redis.keys("bot:inbox:*") == []


def test_the_page_itself_may(client):
    headers = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert upload(client, png(), headers=headers).status_code == 200


def test_a_message_may_refer_only_to_its_own_sessions_upload_while_it_is_here(client, redis):
    theirs = upload(client, png(), session="another-session-01").get_json()["upload"]
    for ref in (theirs, "no-such-upload-0001"):
        answer = send(client, ref)
        assert answer.status_code == 400 and answer.get_json()["error"] == "That file is no longer here: please attach it again."
    assert redis.keys("bot:inbox:*") == []
    empty = client.post("/webhooks/webchat", json={"session": SESSION, "message_id": "m-0000000001"})
    assert empty.status_code == 400 and "text or an upload" in empty.get_json()["error"]


def test_uploads_count_against_the_pages_rate_limit(settings):
    client = Bot(settings, WEBCHAT_RATE_LIMIT="2").client
    assert [upload(client, png()).status_code for _ in range(3)] == [200, 200, 429]


def test_an_upload_gone_before_its_turn_read_it_gets_the_failure_notice_and_a_dead_letter(client, redis, run_worker):
    ref = upload(client, png()).get_json()["upload"]
    send(client, ref, "look")
    redis.delete(f"bot:channel:webchat:upload:{ref}")  # as its backstop TTL would, with the workers far behind
    run_worker()
    assert replies(client) == ["Sorry, I can't answer right now. Please try again in a few minutes."]
    assert "expired" in dead_letters(redis)[0]["reason"]
    assert ledger.lookup(redis, "webchat", f"{SESSION}:m-0000000001")["outcome"] == "notice"


def test_a_voice_note_whose_transcription_failed_is_kept_for_its_dead_letters_replay(settings, redis, llm):
    bot = Bot(settings)
    llm.then(*[openai_error(500, "boom")] * 3)  # the first try and OPENAI_MAX_RETRIES=2
    send(bot.client, upload(bot.client, wav(2)).get_json()["upload"], seconds=2.0)
    bot.run()
    [letter] = dead_letters(redis)
    assert bot.app.test_cli_runner().invoke(args=["dead-letters", "replay", letter["id"]]).exit_code == 0
    bot.run()
    assert replies(bot.client) == ["Sorry, I can't answer right now. Please try again in a few minutes.",
                                   "LLM: where is my parcel"]
    assert redis.keys(UPLOADS) == []  # read at last: dropped with that turn
