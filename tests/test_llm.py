"""The LLM as servers really answer: keyless local servers, today's OpenAI models, older compatible servers."""

from __future__ import annotations

from tests.helpers import Bot, dead_letters, texts


def without_key(settings: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in settings.items() if name != "OPENAI_API_KEY"}


def test_a_keyless_server_answers_instead_of_the_offline_stand_in(settings, llm, telegram, redis):
    Bot(without_key(settings)).say("hello")
    assert texts(telegram) == ["LLM: hello"] and dead_letters(redis) == []
    assert {k.lower(): v for k, v in llm.requests[0].headers.items()}["authorization"] == "Bearer none"  # the SDK insists on a key; the server ignores it
