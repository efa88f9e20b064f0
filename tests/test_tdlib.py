"""The Telegram fake judges every part as Telegram does, with TDLib's own parser."""

from __future__ import annotations

from typing import Iterator

import pytest
import requests

from tests.fakes import FakeTelegram, telegram_error


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()  # not the `telegram` fixture: these tests make refusals on purpose
    yield server
    server.stop()


def send(fake: FakeTelegram, text: str, parse_mode: str | None = "HTML") -> requests.Response:
    payload = {"chat_id": 1, "text": text} | ({"parse_mode": parse_mode} if parse_mode else {})
    return requests.post(f"{fake.url}/bot1:T/sendMessage", json=payload, timeout=5)


def test_html_telegram_cannot_parse_is_refused_as_telegram_refuses_it(fake):
    answer = send(fake, "<b>bold <i>both</b></i>")
    assert answer.status_code == 400
    assert answer.json() == {"ok": False, "error_code": 400, "description": "Bad Request: can't parse entities: "
                             "Unmatched end tag at byte offset 15, expected \"</i>\", found \"</b>\""}
    with pytest.raises(AssertionError, match="can't parse entities"):
        fake.check()


def test_the_limit_counts_the_text_as_parsed(fake):
    assert send(fake, "<b>" + "x" * 4096 + "</b>").status_code == 200
    assert send(fake, "x" * 4097, parse_mode=None).json()["description"] == "Bad Request: message is too long"
    assert send(fake, "&lt;" * 4097).json()["description"] == "Bad Request: message is too long"
    assert send(fake, "<b> </b>").json()["description"] == "Bad Request: message text is empty"
    assert len(fake.refused) == 3


def test_a_refusal_the_test_scripted_is_not_a_defect(fake):
    fake.then(telegram_error(400, "Bad Request: can't parse entities: unsupported start tag"))
    assert send(fake, "<b>fine</b>").status_code == 400
    assert send(fake, "<b>fine</b>").status_code == 200
    fake.check()
