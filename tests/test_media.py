"""Voice notes, photos and documents on Telegram, end to end: the webhook stores a reference, the worker fetches the
file from the Bot API fake, the transcription and vision fakes read it, and the turn ends in one outcome."""

from __future__ import annotations

import datetime as dt
import json
import signal

import pytest
import telegram as ptb

from bot.ops import ledger
from tests.conftest import stop_group
from tests.fakes import Canned, openai_error
from tests.helpers import Bot, dead_letters, post_update, texts, update
from tests.samples_media import ogg, pdf, png, wav

ADA = ptb.User(42, "Ada", False, language_code="en")
CHAT = ptb.Chat(42, "private", first_name="Ada")
OGG = ogg()  # what Telegram's .oga voice notes are
LIMIT = "Sorry, that file is too large or too long for me to open."
FAILURE = "Sorry, I can't answer right now. Please try again in a few minutes."


def media_update(update_id: int, **fields) -> dict:
    """A Telegram update carrying media (a Voice, PhotoSize tuple, Document), built by python-telegram-bot."""
    sent_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return ptb.Update(update_id, message=ptb.Message(57, sent_at, CHAT, from_user=ADA, **fields)).to_dict()


def voice(file_id: str, seconds: int = 4, size: int | None = None) -> ptb.Voice:
    return ptb.Voice(file_id, f"u{file_id}", seconds, mime_type="audio/ogg", file_size=size)


def history(redis) -> list[dict]:
    return [json.loads(entry) for entry in redis.lrange("bot:history:telegram:42", 0, -1)]


@pytest.fixture
def settings(settings):
    """Short leases, so a killed worker's turn resumes in seconds."""
    return {**settings, "LEASE_SECONDS": "2", "SHUTDOWN_GRACE": "1"}


@pytest.fixture
def bot(settings):
    return Bot(settings)


def test_a_voice_note_is_transcribed_and_answered_as_its_words(bot, redis, llm, telegram):
    telegram.files["v1"] = OGG
    post_update(bot.client, media_update(9101, voice=voice("v1")))
    bot.run()
    [upload] = llm.transcriptions
    assert upload["file"][0] == "voice.ogg" and upload["file"][1] == OGG  # the .oga path, sent under the name OpenAI takes
    assert upload["model"] == "gpt-transcribe"
    assert texts(telegram) == ["LLM: where is my parcel"]
    assert history(redis)[0] == {"role": "user", "content": "[voice note] where is my parcel"}
    assert ledger.lookup(redis, "telegram", "9101")["outcome"] == "replied"


def test_a_photo_reaches_the_model_as_an_image_part_and_the_history_keeps_a_marker(bot, redis, llm, telegram):
    image = png(padding=3000)
    telegram.files["p1"] = image
    sizes = (ptb.PhotoSize("p0", "u0", 90, 90), ptb.PhotoSize("p1", "u1", 800, 800, file_size=len(image)))
    post_update(bot.client, media_update(9102, photo=sizes, caption="is this broken?"))
    bot.run()
    [part] = llm.images
    assert part["image_url"]["url"].startswith("data:image/png;base64,")  # the bytes, never the token-bearing URL
    assert texts(telegram)[0].startswith("LLM: is this broken? [image")
    assert history(redis)[0]["content"] == "[photo, 3 KB] is this broken?"  # no image data kept


def test_a_model_that_refuses_images_gets_the_caption_and_a_note(bot, llm, telegram):
    llm.vision = False
    telegram.files["p2"] = png()
    post_update(bot.client, media_update(9103, photo=(ptb.PhotoSize("p2", "u2", 4, 4),), caption="look"))
    bot.run()
    assert texts(telegram) == ["LLM: look (The user sent a photo, which you cannot see.)"]


def test_with_vision_off_a_photo_is_not_fetched(settings, llm, telegram):
    bot = Bot(settings, VISION="0")
    post_update(bot.client, media_update(9104, photo=(ptb.PhotoSize("p3", "u3", 4, 4),)))
    bot.run()
    assert telegram.calls("getFile") == [] and llm.images == []
    assert texts(telegram) == ["LLM: (The user sent a photo, which you cannot see.)"]


def test_with_vision_off_a_photo_sent_as_a_file_is_not_shown_either(settings, llm, telegram):
    bot = Bot(settings, VISION="0")
    telegram.files["p4"] = png()
    post_update(bot.client, media_update(9117, document=ptb.Document("p4", "up4", file_name="broken.png", mime_type="image/png")))
    bot.run()
    assert llm.images == []
    assert texts(telegram) == ["LLM: (The user sent a photo, which you cannot see.)"]


def test_a_pdf_reaches_the_model_as_its_text_with_its_name(bot, redis, llm, telegram):
    telegram.files["d1"] = pdf("Invoice 42 total 9.50")
    invoice = ptb.Document("d1", "ud1", file_name="invoice.pdf", mime_type="application/pdf")
    post_update(bot.client, media_update(9105, document=invoice))
    bot.run()
    assert texts(telegram) == ["LLM: [document invoice.pdf]\nInvoice 42 total 9.50"]
    assert history(redis)[0]["content"] == "[document invoice.pdf]"


def test_a_pdf_pypdf_cannot_parse_gets_the_unreadable_notice(bot, redis, llm, telegram):
    telegram.files["d3"] = pdf(") " + "[" * 5000 + "]" * 5000 + " (")  # arrays nested 5000 deep: RecursionError in pypdf
    post_update(bot.client, media_update(9124, document=ptb.Document("d3", "ud3", file_name="deep.pdf")))
    bot.run()
    assert texts(telegram) == ["Sorry, I can't open that kind of file."] and llm.completions == []


def test_a_long_pdf_is_read_no_further_than_its_first_pages(bot, llm, telegram):
    telegram.files["d2"] = pdf(*[f"page {n}" for n in range(1, 31)])  # each page may cost pypdf seconds: they are bounded
    post_update(bot.client, media_update(9121, document=ptb.Document("d2", "ud2", file_name="long.pdf")))
    bot.run()
    [read] = texts(telegram)
    assert read.endswith("\npage 20") and "page 21" not in read


def test_a_30_mb_voice_note_gets_one_notice_and_nothing_is_downloaded(bot, redis, llm, telegram):
    post_update(bot.client, media_update(9106, voice=voice("big", seconds=1800, size=30 * 1024 * 1024)))
    bot.run()
    assert texts(telegram) == [LIMIT]
    assert telegram.calls("getFile") == [] and llm.transcriptions == [] and llm.completions == []
    assert ledger.lookup(redis, "telegram", "9106")["outcome"] == "notice"


def test_a_file_over_the_limit_stops_at_its_size(settings, llm, telegram):
    bot = Bot(settings, MEDIA_MAX_BYTES="1000")
    telegram.files["v2"] = wav(1)  # 16 KB; the message says nothing of its size
    post_update(bot.client, media_update(9107, voice=voice("v2")))
    bot.run()
    assert texts(telegram) == [LIMIT] and llm.transcriptions == []


def test_a_voice_note_longer_than_the_limit_gets_the_notice(settings, llm, telegram):
    bot = Bot(settings, AUDIO_MAX_SECONDS="2")
    telegram.files["v3"] = wav(3)
    post_update(bot.client, media_update(9108, voice=voice("v3", seconds=0)))
    bot.run()
    assert texts(telegram) == [LIMIT] and llm.transcriptions == []


def test_a_voice_note_without_a_sound_in_it_gets_the_unreadable_notice_not_a_dead_letter(bot, redis, llm, telegram):
    telegram.files["v11"] = wav(0)  # the endpoint refuses audio that short: no retry or replay could help
    post_update(bot.client, media_update(9122, voice=voice("v11", seconds=0)))
    bot.run()
    assert texts(telegram) == ["Sorry, I can't open that kind of file."] and llm.transcriptions == []
    assert dead_letters(redis) == []


def test_a_file_gone_from_telegram_gets_the_failure_notice_and_a_dead_letter(bot, redis, llm, telegram):
    telegram.files["v4"] = OGG
    telegram.fault = lambda call: Canned(status=404, raw=b"Not Found") if call.path.startswith("/file/") else None
    post_update(bot.client, media_update(9109, voice=voice("v4")))
    bot.run()
    assert texts(telegram) == [FAILURE] and llm.completions == []
    assert "HTTP 404" in dead_letters(redis)[0]["reason"]


def test_a_file_telegram_gives_no_path_for_gets_the_failure_notice_and_a_dead_letter(bot, redis, llm, telegram):
    telegram.fault = lambda call: Canned(body={"ok": True, "result": {"file_id": "v12", "file_unique_id": "uv12"}}) \
        if call.method == "getFile" else None  # file_path is optional in the Bot API's File
    post_update(bot.client, media_update(9123, voice=voice("v12")))
    bot.run()
    assert texts(telegram) == [FAILURE] and llm.completions == []
    assert "file_path" in dead_letters(redis)[0]["reason"]


def test_a_failed_transcription_is_dead_lettered_and_replays(bot, redis, llm, telegram):
    telegram.files["v5"] = OGG
    llm.then(*[openai_error(500, "boom")] * 3)  # the first try and OPENAI_MAX_RETRIES=2
    post_update(bot.client, media_update(9110, voice=voice("v5")))
    bot.run()
    assert texts(telegram) == [FAILURE]
    [letter] = dead_letters(redis)
    assert bot.app.test_cli_runner().invoke(args=["dead-letters", "replay", letter["id"]]).exit_code == 0
    bot.run()
    assert texts(telegram) == [FAILURE, "LLM: where is my parcel"]


def test_offline_the_stand_in_says_what_it_got(settings, llm, telegram):
    bot = Bot({**settings, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""})
    telegram.files["v6"], telegram.files["p6"] = wav(4), png(padding=120_000)
    post_update(bot.client, media_update(9111, voice=voice("v6", seconds=0)))
    post_update(bot.client, media_update(9112, photo=(ptb.PhotoSize("p6", "u6", 4, 4),)))
    bot.run()
    assert texts(telegram) == ["(offline model) you said: a voice note of 4 s / a photo of 120 KB"]
    assert llm.requests == []


def test_a_worker_killed_during_a_transcription_gives_one_answer(bot, redis, llm, telegram, start_workers):
    telegram.files["v7"] = OGG
    llm.transcribe_gate.clear()
    post_update(bot.client, media_update(9113, voice=voice("v7")))
    [first] = start_workers()
    llm.wait_for(lambda: len(llm.transcriptions) == 1)
    stop_group(first, signal.SIGKILL)
    first.wait()
    llm.transcribe_gate.set()
    start_workers()
    telegram.wait_for(lambda: ledger.lookup(redis, "telegram", "9113") is not None, timeout=60)
    assert texts(telegram) == ["LLM: where is my parcel"]
    assert len(llm.transcriptions) == 2  # fetched and transcribed again: nothing of the file was kept


def test_a_burst_of_a_photo_its_caption_and_a_voice_note_is_one_turn_in_order(settings, redis, llm, telegram):
    bot = Bot(settings, BURST_WINDOW="0.5", BURST_MAX_WAIT="3")
    telegram.files.update({"p8": png(), "v8": OGG})
    post_update(bot.client, media_update(9114, photo=(ptb.PhotoSize("p8", "u8", 4, 4),)))
    post_update(bot.client, media_update(9115, text="is this broken?"))
    post_update(bot.client, media_update(9116, voice=voice("v8")))
    bot.run()
    [completion] = llm.completions
    said = [message["content"] for message in completion["messages"] if message["role"] == "user"]
    assert [part["type"] for part in said[0]] == ["image_url"] and said[1:] == ["is this broken?", "where is my parcel"]
    assert len(texts(telegram)) == 1
    kept = [entry["content"] for entry in history(redis)[:3]]
    assert kept == ["[photo, 0 KB]", "is this broken?", "[voice note] where is my parcel"]
    assert ledger.counts(redis) == {"merged": 3}  # one turn answered all three


def test_in_restart_mode_a_voice_note_sent_during_the_llm_call_is_read_in_a_turn_of_its_own(settings, llm, telegram,
                                                                                           start_workers):
    settings.update(BURST_MODE="restart")  # the workers' environment too
    bot = Bot(settings)
    telegram.files["v9"] = OGG
    llm.gate.clear()
    post_update(bot.client, update("R first", 42, update_id=9118))
    start_workers()
    llm.wait_for(lambda: len(llm.completions) == 1)
    post_update(bot.client, media_update(9119, voice=voice("v9")))
    llm.gate.set()
    telegram.wait_for(lambda: len(telegram.sent) == 2)
    assert texts(telegram) == ["LLM: R first", "LLM: where is my parcel"] and len(llm.transcriptions) == 1


def test_a_turn_resumed_after_its_reply_was_written_keeps_the_voice_note_in_the_history(bot, redis, llm, telegram,
                                                                                       start_workers):
    telegram.files["v10"] = OGG
    telegram.gate.clear()
    telegram.hold = lambda call: call.method == "sendMessage"
    post_update(bot.client, media_update(9120, voice=voice("v10")))
    [first] = start_workers()
    telegram.wait_for(lambda: telegram.calls("sendMessage"))
    stop_group(first, signal.SIGKILL)  # the reply was kept before it was sent: the resumed turn reads no file again
    first.wait()
    telegram.hold = lambda call: False
    telegram.gate.set()
    start_workers()
    telegram.wait_for(lambda: ledger.lookup(redis, "telegram", "9120") is not None, timeout=60)
    assert history(redis)[0] == {"role": "user", "content": "[voice note]"} and len(llm.transcriptions) == 1
