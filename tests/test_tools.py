"""Tools: the model calls webhook tools, signed and allowlisted, and answers from their results; both wire formats."""

from __future__ import annotations

import json

import pytest

from bot.ops import ledger
from bot.ops.ledger import Outcome
from bot.ops.logs import secrets_in
from bot.turn import handoff
from tests.fakes import Canned, completion, function_calls, tool_calls
from tests.helpers import Bot, texts
from tests.vendors import STANDARD_SECRET

CONVERSATION = "telegram:123456789"
LOOKUP = """description: Look up an order's status by its number.
parameters:
  type: object
  properties:
    order: {{type: string, description: "The order number, e.g. 1042"}}
  required: [order]
url: {url}/bot-tools/lookup-order
idempotent: {idempotent}
"""


def write_tool(prompts, shop, name: str = "lookup_order", idempotent: bool = True) -> None:
    (prompts / "tools").mkdir(exist_ok=True)
    (prompts / "tools" / f"{name}.yaml").write_text(LOOKUP.format(url=shop.url, idempotent=str(idempotent).lower()))


@pytest.fixture
def prompts(tmp_path, shop):
    (tmp_path / "system.md").write_text("---\ntools: [lookup_order, handoff]\n---\nYou help customers with their orders.")
    write_tool(tmp_path, shop)
    return tmp_path


def tool_settings(prompts, shop) -> dict[str, str]:
    """The settings that serve the prompts in `prompts`, with their tools signed and `shop` allowed."""
    return {"PROMPTS_DIR": str(prompts), "TOOLS_WEBHOOK_SECRET": STANDARD_SECRET,
            "TOOLS_ALLOWLIST": f"127.0.0.1:{shop.server.server_port}"}


@pytest.fixture
def settings(settings, prompts, shop):
    return {**settings, **tool_settings(prompts, shop)}


def names(request: dict) -> list[str]:
    """The tools offered in a chat completions request."""
    return [tool["function"]["name"] for tool in request.get("tools", [])]


def test_the_model_looks_an_order_up_and_answers_from_the_result(settings, llm, telegram, shop, redis):
    answer = tool_calls(("lookup_order", {"order": "1042"}))
    llm.then(answer)
    Bot(settings).say("where is my order 1042?", update_id=1)
    assert texts(telegram) == ['LLM: {"order": "1042", "status": "shipped"}']
    first, second = llm.completions
    assert names(first) == names(second) == ["lookup_order", "handoff"] and "tool_choice" not in first
    assert first["tools"][0]["function"]["parameters"]["required"] == ["order"]  # the file's schema, as it is
    assistant, result = second["messages"][-2:]
    assert assistant["tool_calls"] == answer.body["choices"][0]["message"]["tool_calls"]
    assert result == {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"],
                      "content": '{"order": "1042", "status": "shipped"}'}
    [event] = shop.verified  # signed as Standard Webhooks: the reference library checked it
    turn = ledger.lookup(redis, "telegram", "1")["turn"]
    assert event == {"type": "tool.call", "timestamp": event["timestamp"],
                     "data": {"tool": "lookup_order", "arguments": {"order": "1042"}, "call_id": f"call_{turn}_0_0",
                              "conversation": CONVERSATION, "user_id": "42", "platform": "telegram"}}
    assert shop.ids() == [f"call_{turn}_0_0"]  # the turn, the round and the call's place: the same when retried
    assert shop.requests[0].path == "/bot-tools/lookup-order"


def test_the_responses_api_calls_tools_as_output_items_and_keeps_the_reasoning(settings, llm, telegram, shop):
    answer = function_calls(("lookup_order", {"order": "1042"}))
    llm.then(answer)
    Bot(settings, OPENAI_API="responses").say("where is 1042?")
    assert texts(telegram) == ['LLM: {"order": "1042", "status": "shipped"}']
    first, second = llm.calls("responses")
    assert first["tools"][0] == {"type": "function", "name": "lookup_order", "description": "Look up an order's status by "
                                 "its number.", "parameters": first["tools"][0]["parameters"]}  # flat: no nested function
    assert first["max_output_tokens"] == 1024 + 4096 and first["reasoning"] == {"effort": "low"}
    reasoning, call = answer.body["output"]
    assert second["input"][-3:-1] == [reasoning, call]  # the round's items sent back as they came, reasoning first
    assert second["input"][-1] == {"type": "function_call_output", "call_id": call["call_id"],
                                   "output": '{"order": "1042", "status": "shipped"}'}
    assert llm.completions == []


def test_calls_of_one_round_are_each_answered_in_order(settings, llm, telegram, shop, redis):
    llm.then(tool_calls(("lookup_order", {"order": "1"}), ("lookup_order", {"order": "2"})))
    Bot(settings).say("orders 1 and 2?", update_id=2)
    turn = ledger.lookup(redis, "telegram", "2")["turn"]
    assert shop.ids() == [f"call_{turn}_0_0", f"call_{turn}_0_1"]
    assert texts(telegram) == ['LLM: {"order": "1", "status": "shipped"} + {"order": "2", "status": "shipped"}']


def test_every_rounds_tokens_count_against_the_users_budget(settings, llm, telegram, shop, redis):
    llm.then(tool_calls(("lookup_order", {"order": "1"})), tool_calls(("lookup_order", {"order": "2"})))
    Bot(settings).say("orders?")
    used = [int(redis.get(key)) for key in redis.keys("bot:usage:telegram:42:tokens:*")]
    assert used == [3 * (10 + 5)] and len(llm.completions) == 3


def test_a_failing_tool_is_an_error_the_model_sees_never_a_raw_error_in_chat(settings, llm, telegram, shop):
    shop.then(Canned(404, {"error": "no such order"}))
    llm.then(tool_calls(("lookup_order", {"order": "9"})))
    Bot(settings).say("order 9?")
    assert llm.completions[1]["messages"][-1]["content"] == "the tool failed: it answered 404"
    assert texts(telegram) == ["LLM: the tool failed: it answered 404"]


@pytest.mark.parametrize("idempotent, calls", [(True, 2), (False, 1)])
def test_only_an_idempotent_tool_is_retried_and_with_the_same_webhook_id(settings, prompts, llm, telegram, shop, idempotent,
                                                                           calls):
    write_tool(prompts, shop, idempotent=idempotent)
    shop.then(Canned(503, {}))
    llm.then(tool_calls(("lookup_order", {"order": "7"})))
    Bot(settings).say("order 7?")
    assert len(shop.requests) == calls and len(set(shop.ids())) == 1
    result = llm.completions[1]["messages"][-1]["content"]
    assert result == ('{"order": "7", "status": "shipped"}' if idempotent else "the tool failed: it answered 503")


@pytest.mark.parametrize("arguments, problem", [
    ({"order": 1042}, "its arguments do not fit its schema: 1042 is not of type 'string'"),
    ({}, "its arguments do not fit its schema: 'order' is a required property"),
])
def test_arguments_that_do_not_fit_the_schema_are_refused_before_any_call(settings, llm, telegram, shop, arguments, problem):
    llm.then(tool_calls(("lookup_order", arguments)))
    Bot(settings).say("order?")
    assert shop.requests == []
    assert llm.completions[1]["messages"][-1]["content"] == f"the tool was not called: {problem}"


def test_a_tool_the_prompt_does_not_offer_is_never_called(settings, llm, telegram, shop):
    llm.then(tool_calls(("refund", {"order": "1"})))
    Bot(settings).say("refund me")
    assert shop.requests == [] and llm.completions[1]["messages"][-1]["content"] == \
        "the tool was not called: there is no tool refund"


def test_after_the_last_round_the_model_must_answer(settings, llm, telegram, shop):
    llm.then(*(tool_calls(("lookup_order", {"order": str(n)})) for n in range(2)))
    Bot(settings, TOOLS_MAX_ROUNDS="2").say("orders?")
    assert [call.get("tool_choice") for call in llm.completions] == [None, None, "none"]
    assert len(shop.requests) == 2 and len(texts(telegram)) == 1


def test_a_model_that_calls_tools_past_the_last_round_ends_in_the_failure_notice(settings, llm, telegram, shop, redis):
    llm.then(tool_calls(("lookup_order", {"order": "1"})), tool_calls(("lookup_order", {"order": "2"})))
    bot = Bot(settings, TOOLS_MAX_ROUNDS="1")
    bot.say("orders?", update_id=3)
    assert len(shop.requests) == 1 and texts(telegram) == [bot.app.extensions["bot"].config.failure_notice]
    assert ledger.lookup(redis, "telegram", "3")["outcome"] == Outcome.NOTICE


def test_the_model_hands_the_conversation_to_a_person(settings, llm, telegram, shop, redis):
    llm.then(tool_calls(("handoff", {"reason": "wants a refund"})))
    bot = Bot(settings)
    bot.say("I want to speak to someone", update_id=4)
    assert texts(telegram) == [bot.app.extensions["bot"].config.handoff_notice]
    assert handoff.status(redis, CONVERSATION)["by"] == "model"
    assert ledger.lookup(redis, "telegram", "4")["outcome"] == Outcome.HANDOFF and len(llm.completions) == 1


def test_a_tool_url_off_the_allowlist_is_refused_at_call_time(settings, llm, telegram, shop):
    llm.then(tool_calls(("lookup_order", {"order": "1"})))
    Bot(settings, TOOLS_ALLOWLIST="shop.example.com").say("order 1?")
    assert shop.requests == []
    assert llm.completions[1]["messages"][-1]["content"] == \
        f"the tool failed: tool host 127.0.0.1:{shop.server.server_port} is not in TOOLS_ALLOWLIST"


def test_headers_may_send_tool_variables_and_their_values_are_never_logged(settings, prompts, llm, telegram, shop, caplog):
    source = (prompts / "tools" / "lookup_order.yaml").read_text()
    (prompts / "tools" / "lookup_order.yaml").write_text(source + 'headers: {Authorization: "Bearer ${TOOL_SHOP_TOKEN}"}\n')
    llm.then(tool_calls(("lookup_order", {"order": "1"})))
    Bot(settings, TOOL_SHOP_TOKEN="shop-token-123").say("order 1?")
    assert shop.requests[0].headers["Authorization"] == "Bearer shop-token-123"
    assert "shop-token-123" not in caplog.text


def test_the_ledger_the_log_line_the_metrics_and_the_admin_page_list_each_call(settings, llm, telegram, shop, redis, caplog):
    llm.then(tool_calls(("lookup_order", {"order": "1042"})))
    caplog.set_level("INFO")
    bot = Bot(settings, ADMIN_USERNAME="admin", ADMIN_PASSWORD="a-long-admin-password-1")
    bot.say("order 1042?", update_id=5)
    [call] = ledger.lookup(redis, "telegram", "5")["tools"]
    assert call == {"tool": "lookup_order", "ms": call["ms"], "outcome": "ok"}
    [done] = [record for record in caplog.records if record.msg == "turn done"]
    assert done.tools == [call]
    logged = [str(vars(record)) for record in caplog.records]
    assert not any('"status": "shipped"' in line or '"order": "1042"' in line for line in logged)  # no result, no arguments
    bot.app.extensions["bot"].metrics.flush()
    page = bot.client.get("/metrics").get_data(as_text=True)
    assert 'chatbot_tool_calls_total{outcome="ok",tool="lookup_order"} 1.0' in page
    assert 'chatbot_tool_seconds_count{tool="lookup_order"} 1.0' in page
    admin = bot.client.get("/admin", auth=("admin", "a-long-admin-password-1")).get_data(as_text=True)
    assert "<td>lookup_order</td>" in admin and f">{CONVERSATION}</a></td>" in admin
    shown = bot.client.get(f"/admin/conversations/{CONVERSATION}", auth=("admin", "a-long-admin-password-1"))
    assert f"tool lookup_order: ok, {call['ms']} ms" in shown.get_data(as_text=True)  # in the transcript, with the reply


def test_the_journal_goes_with_the_turn_and_forget_erases_the_listed_calls(settings, llm, telegram, shop, redis):
    llm.then(tool_calls(("lookup_order", {"order": "1"})))
    bot = Bot(settings)
    bot.say("order 1?")
    assert not redis.exists(f"bot:journal:{CONVERSATION}") and redis.llen("bot:toolcalls") == 1
    result = bot.app.test_cli_runner().invoke(args=["forget", CONVERSATION])
    assert "1 tool calls listed" in result.output and redis.llen("bot:toolcalls") == 0


def test_a_prompt_without_tools_offers_none(settings, prompts, llm, telegram):
    (prompts / "system.md").write_text("You are brief.")
    Bot(settings).say("hi")
    assert "tools" not in llm.completions[0] and texts(telegram) == ["LLM: hi"]


def test_the_offline_stand_in_calls_a_tool_when_asked(settings, telegram, shop):
    offline = {name: value for name, value in settings.items() if name not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    Bot(offline).say("/tool lookup_order order=1042")
    assert texts(telegram) == ['(offline model) the tool said: {"order": "1042", "status": "shipped"}']
    assert [event["data"]["arguments"] for event in shop.verified] == [{"order": "1042"}]


def test_the_offline_stand_in_says_which_tools_a_prompt_enables(settings, telegram, shop):
    offline = {name: value for name, value in settings.items() if name not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    Bot(offline).say("/tool refund order=1")
    assert texts(telegram) == ["(offline model) this prompt enables no tool refund: it enables lookup_order, handoff"]


def test_a_text_answer_with_tool_calls_is_not_sent_before_the_calls(settings, llm, telegram, shop):
    llm.then(tool_calls(("lookup_order", {"order": "1"}), text="Let me look."), Canned(body=completion("It shipped.")))
    Bot(settings).say("order 1?")
    assert texts(telegram) == ["It shipped."] and json.loads(shop.requests[0].raw)["data"]["arguments"] == {"order": "1"}


def test_tool_variables_are_blanked_out_of_logs_whatever_their_names():
    assert secrets_in({"TOOL_SHOP_AUTH": "shop-auth-value", "TOOLS_MAX_ROUNDS": "5"}) == ["shop-auth-value"]
