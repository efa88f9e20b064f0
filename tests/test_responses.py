"""OPENAI_API=responses: the same bot over OpenAI's Responses API, its parameters under their Responses names."""

from __future__ import annotations

import pytest
import telegram as ptb

from app import create_app
from bot.config import ConfigError
from tests.fakes import openai_refusal
from tests.helpers import Bot, dead_letters, post_update, texts
from tests.samples_media import png
from tests.test_media import media_update


@pytest.fixture
def settings(settings):
    return {**settings, "OPENAI_API": "responses"}


def test_a_turn_is_answered_through_the_responses_api(settings, llm, telegram, redis):
    bot = Bot(settings)
    bot.say("hello")
    bot.say("again")
    assert texts(telegram) == ["LLM: hello", "LLM: again"] and llm.completions == [] and dead_letters(redis) == []
    first, second = llm.calls("responses")
    assert first["input"][1:] == [{"role": "user", "content": "hello"}] and first["input"][0]["role"] == "system"
    assert second["input"][1:] == [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "LLM: hello"},
                                   {"role": "user", "content": "again"}]
    assert (first["max_output_tokens"], first["reasoning"]) == (1024 + 4096, {"effort": "low"})
    assert not {"max_tokens", "max_completion_tokens", "reasoning_effort", "messages"} & set(first)


def test_a_photo_goes_as_an_input_image_beside_its_caption_as_input_text(settings, llm, telegram):
    bot = Bot(settings)
    telegram.files["p1"] = png(padding=3000)
    post_update(bot.client, media_update(9201, photo=(ptb.PhotoSize("p1", "u1", 800, 800),), caption="is this broken?"))
    bot.run()
    [request] = llm.calls("responses")
    text, image = request["input"][-1]["content"]
    assert text == {"type": "input_text", "text": "is this broken?"}
    assert (image["type"], image["detail"]) == ("input_image", "auto") and image["image_url"].startswith("data:image/png;base64,")
    assert texts(telegram)[0].startswith("LLM: is this broken? [image")  # the fake took it: no 400, no note in its place


def test_front_matter_verbosity_and_temperature_go_where_the_responses_api_takes_them(settings, llm, telegram, tmp_path):
    (tmp_path / "system.md").write_text("---\nverbosity: low\ntemperature: 0.3\n---\nBe brief.")
    Bot(settings, PROMPTS_DIR=str(tmp_path)).say("hello")
    [request] = llm.calls("responses")
    assert (request["text"], request["temperature"]) == ({"verbosity": "low"}, 0.3)


@pytest.mark.parametrize("param, left_out", [("reasoning.effort", "reasoning"), ("text.verbosity", "text"),
                                             ("temperature", "temperature")])
def test_a_refused_parameter_is_left_out_from_then_on(settings, llm, telegram, tmp_path, param, left_out):
    (tmp_path / "system.md").write_text("---\nverbosity: low\ntemperature: 0.3\n---\nBe brief.")
    llm.then(openai_refusal(param, "unsupported_value", f"Unsupported value: '{param}' is not supported with this model."))
    bot = Bot(settings, PROMPTS_DIR=str(tmp_path))
    bot.say("hello")
    bot.say("again")
    assert texts(telegram) == ["LLM: hello", "LLM: again"]
    assert [left_out in request for request in llm.calls("responses")] == [True, False, False]


def test_an_answer_cut_at_the_cap_by_reasoning_is_a_failure_said_so(settings, llm, telegram, redis):
    llm.style, llm.reasoning_cost = "current", 100_000
    Bot(settings).say("hello")
    assert texts(telegram) == ["Sorry, I can't answer right now. Please try again in a few minutes."]
    assert "LLM reached its cap of 5120 tokens before writing (5120 reasoning)" in dead_letters(redis)[0]["reason"]


def test_an_unknown_openai_api_is_refused_at_start(settings):
    with pytest.raises(ConfigError, match="OPENAI_API must be chat or responses, got 'completions'"):
        create_app({**settings, "OPENAI_API": "completions"})
