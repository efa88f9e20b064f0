"""The LLM as servers really answer: keyless local servers, today's OpenAI models, older compatible servers."""

from __future__ import annotations

import logging

import pytest

from bot.config import ConfigError
from bot.ops import ledger
from bot.ops.ledger import Outcome
from bot.parameters import first_cap
from tests.fakes import Canned, completion, openai_refusal, vllm_extra_forbidden
from tests.helpers import ROOT, Bot, dead_letters, post_update, texts, update

CAPS = ("max_tokens", "max_completion_tokens")


def without_key(settings: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in settings.items() if name != "OPENAI_API_KEY"}


def chat(settings: dict[str, str], *words: str, **overrides: str) -> None:
    """The user says each word in turn on Telegram (update ids 1, 2, ...), and the real worker answers."""
    bot = Bot(settings, **overrides)
    for number, word in enumerate(words, start=1):
        bot.say(word, update_id=number)


def answered(redis, telegram, *expected: str) -> bool:
    """Every message replied to, alone: no notice, no dead letter."""
    outcomes = [ledger.lookup(redis, "telegram", str(number))["outcome"] for number in range(1, len(expected) + 1)]
    return texts(telegram) == list(expected) and outcomes == [Outcome.REPLIED] * len(expected) and not dead_letters(redis)


def sent(llm, *names: str) -> list[tuple]:
    """Each completion request's values of `names` (None where absent)."""
    return [tuple(call.get(name) for name in names) for call in llm.completions]


def refusals(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING and "refused" in record.msg]


def test_a_keyless_server_answers_instead_of_the_offline_stand_in(settings, llm, telegram, redis):
    Bot(without_key(settings)).say("hello")
    assert texts(telegram) == ["LLM: hello"] and dead_letters(redis) == []
    headers = {name.lower(): value for name, value in llm.requests[0].headers.items()}
    assert headers["authorization"] == "Bearer none"  # the SDK insists on a key; the server ignores it


def test_todays_openai_models_answer_and_the_refused_max_tokens_is_remembered(settings, llm, telegram, redis, caplog):
    llm.style = "current"
    chat(settings, "hello", "again")
    assert answered(redis, telegram, "LLM: hello", "LLM: again")
    # refused once, then max_completion_tokens: the reply's 1024 plus 4096 for reasoning at the default effort, low
    assert sent(llm, *CAPS, "reasoning_effort") == [(5120, None, "low"), (None, 5120, "low"), (None, 5120, "low")]
    assert refusals(caplog) == ["LLM test-model refused max_tokens: sending max_completion_tokens instead from now on. "
                                "Set OPENAI_MAX_TOKENS_PARAMETER=max_completion_tokens to send it from the first call."]


@pytest.mark.parametrize("prompt, cap, temperature", [("faq.md", 200, 0), ("order-status.md", 400, 0.2)])
def test_the_shipped_example_prompts_answer_on_a_reasoning_model(settings, llm, telegram, redis, prompt, cap, temperature):
    llm.style = "current"  # its 1500 tokens of reasoning are more than either prompt's cap
    chat(settings, "opening hours?", "and on Sunday?", PROMPTS_DIR=str(ROOT / "prompts"), PROMPT=f"examples/{prompt}")
    assert answered(redis, telegram, "LLM: opening hours?", "LLM: and on Sunday?")
    allowed = cap + 4096
    assert sent(llm, *CAPS, "temperature") == [(allowed, None, temperature), (None, allowed, temperature),
                                                (None, allowed, None), (None, allowed, None)]


def test_an_older_server_gets_max_tokens_and_reasoning_effort_only_until_it_refuses_it(settings, llm, telegram, redis, caplog):
    llm.style = "legacy"
    chat(settings, "hello", "again")
    assert answered(redis, telegram, "LLM: hello", "LLM: again")
    assert sent(llm, *CAPS, "reasoning_effort") == [(5120, None, "low"), (1024, None, None), (1024, None, None)]
    assert refusals(caplog) == ["LLM test-model refused reasoning_effort: leaving it out from now on, so the model's "
                                "default applies. To stop sending it, set OPENAI_REASONING_EFFORT (or the prompt's "
                                "reasoning_effort) to a value it takes, or empty."]


def test_an_older_server_refusing_max_completion_tokens_gets_max_tokens(settings, llm, telegram, redis):
    llm.style = "legacy"  # it lists both refused fields in one answer
    chat(settings, "hello", "again", OPENAI_MAX_TOKENS_PARAMETER="max_completion_tokens")
    assert answered(redis, telegram, "LLM: hello", "LLM: again")
    assert sent(llm, *CAPS, "reasoning_effort") == [(None, 5120, "low"), (1024, None, None), (1024, None, None)]


def test_a_parameter_litellm_does_not_support_is_left_out(settings, llm, telegram, redis):
    llm.then(Canned(status=400, body={"error": {"message": "litellm.BadRequestError: litellm.UnsupportedParamsError: "
                                                "deepinfra does not support parameters: ['reasoning_effort'], for "
                                                "model=deepseek-ai/DeepSeek-V3.1. To drop these, set "
                                                "`litellm.drop_params=True`", "type": None, "param": None, "code": "400"}}))
    chat(settings, "hello")
    assert answered(redis, telegram, "LLM: hello")
    assert sent(llm, "reasoning_effort") == [("low",), (None,)]


def test_front_matter_sets_reasoning_effort_and_verbosity(settings, llm, tmp_path):
    (tmp_path / "system.md").write_text("---\nreasoning_effort: medium\nverbosity: low\nmax_tokens: 300\n---\nBe brief.")
    chat(settings, "hello", PROMPTS_DIR=str(tmp_path))
    assert sent(llm, "reasoning_effort", "verbosity", "max_tokens") == [("medium", "low", 300 + 16384)]


def test_no_reasoning_effort_means_no_allowance(settings, llm):
    chat(settings, "hello", OPENAI_REASONING_EFFORT="")
    assert sent(llm, "reasoning_effort", "max_tokens") == [(None, 1024)]


def test_a_cap_spent_on_reasoning_is_logged_as_such(settings, llm, telegram, redis, caplog):
    llm.style, llm.reasoning_cost = "current", 100_000
    chat(settings, "hello")
    assert texts(telegram) == ["Sorry, I can't answer right now. Please try again in a few minutes."]
    assert "LLM reached its cap of 5120 tokens before writing (5120 reasoning)" in dead_letters(redis)[0]["reason"]
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert ("LLM test-model wrote no reply: it reached its cap of 5120 tokens (5120 of them reasoning, at reasoning_effort "
            "low). Raise OPENAI_MAX_TOKENS or the prompt's max_tokens, or lower its reasoning_effort.") in errors
    assert len(llm.completions) == 2  # the refused max_tokens, then the answer: not retried, it would end the same


def test_the_cap_refused_under_both_names_is_a_failure_not_a_loop(settings, llm, telegram, redis):
    refused = openai_refusal("max_tokens", "unsupported_parameter", "Unsupported parameter: 'max_tokens' is not "
                             "supported with this model. Use 'max_completion_tokens' instead.")
    llm.then(refused, vllm_extra_forbidden(["max_completion_tokens"], {"max_completion_tokens": 5120}))
    chat(settings, "hello")
    assert len(llm.completions) == 2 and "LLM answered 400" in dead_letters(redis)[0]["reason"]
    assert texts(telegram) == ["Sorry, I can't answer right now. Please try again in a few minutes."]


@pytest.mark.parametrize("base_url, first", [
    ("", "max_completion_tokens"),  # OpenAI itself
    ("https://api.openai.com/v1", "max_completion_tokens"),
    ("https://acme.openai.azure.com/openai/v1", "max_completion_tokens"),
    ("http://localhost:8080/v1", "max_tokens"),  # llama.cpp ignores max_completion_tokens: the cap would be lost
    ("http://litellm:4000", "max_tokens"),
])
def test_the_cap_goes_first_under_the_name_the_server_surely_takes(base_url, first):
    assert first_cap(base_url) == first
    assert first_cap(base_url, "max_tokens") == "max_tokens"


def test_a_mistyped_cap_parameter_stops_start_up():
    with pytest.raises(ConfigError, match="OPENAI_MAX_TOKENS_PARAMETER must be one of"):
        first_cap("", "max_token")


def check(settings: dict[str, str], **overrides: str):
    """`flask --app app check`, the release step, for a bot with these settings."""
    return Bot(settings, **overrides).app.test_cli_runner().invoke(args=["check"])


def test_the_release_check_says_when_the_server_does_not_offer_the_model(settings, llm):
    result = check(settings, OPENAI_MODEL="gpt-5.4-mnii")
    assert result.exit_code == 1
    assert ("problem: OPENAI_MODEL gpt-5.4-mnii is not offered by the LLM server (it lists gpt-5.4-mini, test-model): set "
            "OPENAI_MODEL to one it offers, or check OPENAI_BASE_URL.") in result.output
    assert [call.path for call in llm.requests] == ["/v1/models"]


def test_the_release_check_warns_when_it_cannot_list_the_models(settings):
    from bot.worker.local import free_port

    result = check(settings, OPENAI_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")  # nothing listens there
    assert result.exit_code == 0, result.output
    assert "warning: OPENAI_MODEL not checked: listing the LLM server's models failed (LLM unreachable" in result.output


def test_the_release_check_asks_no_server_offline(settings, llm):
    offline = {name: value for name, value in settings.items() if name not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    assert check(offline).exit_code == 0 and llm.requests == []


def test_a_reply_holding_a_lone_surrogate_is_repaired_not_a_crash(client, run_worker, redis, llm, telegram):
    llm.then(Canned(body=completion("half \ud800 of a pair")))  # JSON carries it escaped, as any server may
    post_update(client, update("hi", update_id=4242))
    run_worker()
    assert [m["text"] for m in telegram.sent] == ["half \ufffd of a pair"]
    assert ledger.lookup(redis, "telegram", "4242")["outcome"] == "replied"


def test_the_sdks_platform_probe_runs_when_the_app_is_built_not_in_a_turns_thread(settings):
    from openai import _base_client

    _base_client.platform_headers.cache_clear()
    Bot(settings)  # a worker process builds its app on the main thread, before its slots start
    assert _base_client.platform_headers.cache_info().currsize == 1  # every request's headers come from here on
