"""Tool files: checked by `flask prompts check` with the file and the reason; hot-reloaded; a broken one keeps serving
its last good version, as prompts do."""

from __future__ import annotations

import pytest

from app import create_app
from tests.fakes import tool_calls
from tests.helpers import Bot
from tests.test_tools import LOOKUP, names, tool_settings, write_tool
from tests.vendors import ToolEndpoint


@pytest.fixture
def shop():
    endpoint = ToolEndpoint().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def prompts(tmp_path, shop):
    (tmp_path / "system.md").write_text("---\ntools: [lookup_order]\n---\nYou help customers with their orders.")
    write_tool(tmp_path, shop)
    return tmp_path


@pytest.fixture
def settings(settings, prompts, shop):
    return {**settings, **tool_settings(prompts, shop)}


def check(settings: dict[str, str], **overrides: str):
    return create_app({**settings, **overrides}).test_cli_runner().invoke(args=["prompts", "check"])


def test_good_tool_files_pass_the_check(settings):
    result = check(settings)
    assert result.exit_code == 0, result.output
    assert "problem" not in result.output and "warning" not in result.output


GOOD = "description: Look it up.\nurl: https://shop.example.com/tools\n"


@pytest.mark.parametrize("source, reason", [
    ("description: [unclosed\nurl: x\n", "while parsing a flow sequence"),
    ("- a list\n", "must be `key: value` lines"),
    (GOOD + "parameters: {type: string}\n", "parameters must be a JSON Schema of type object"),
    (GOOD + "parameters: {type: object, properties: {order: {type: text}}}\n",
     "parameters is not a valid JSON Schema: 'text' is not valid"),
    (GOOD + "method: PUT\n", "unknown field 'method'; known: description, parameters, url, timeout, idempotent, headers"),
    ("description: Look it up.\n", "url is missing"),
    (GOOD + "idempotent: sometimes\n", "idempotent must be a bool, got 'sometimes'"),
    (GOOD + "timeout: 0\n", "timeout must be a number of seconds above 0"),
    (GOOD + 'headers: {Authorization: "Bearer ${OPENAI_API_KEY}"}\n',
     "may use only variables whose names start with TOOL_, not ${OPENAI_API_KEY}"),
])
def test_a_bad_tool_file_fails_the_check_with_the_file_and_the_reason(settings, prompts, source, reason):
    (prompts / "tools" / "refund.yaml").write_text(source)
    result = check(settings, TOOLS_ALLOWLIST=settings["TOOLS_ALLOWLIST"] + ",shop.example.com")
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if line.startswith("problem: ")]
    assert line.startswith("problem: tools/refund.yaml: ") and reason in line


def test_a_tool_file_name_the_model_would_refuse_fails_the_check(settings, prompts):
    (prompts / "tools" / "look up.yaml").write_text(GOOD)
    result = check(settings, TOOLS_ALLOWLIST=settings["TOOLS_ALLOWLIST"] + ",shop.example.com")
    assert result.exit_code == 1 and "problem: tools/look up.yaml: a tool's file name must be 1 to 64 letters" in result.output


def test_a_tool_url_off_the_allowlist_fails_the_check(settings, shop):
    result = check(settings, TOOLS_ALLOWLIST="shop.example.com")
    assert result.exit_code == 1
    assert f"problem: tools/lookup_order.yaml: tool host 127.0.0.1:{shop.server.server_port} is not in TOOLS_ALLOWLIST" \
        in result.output


def test_a_prompt_naming_a_tool_that_is_not_there_fails_the_check(settings, prompts):
    (prompts / "support.md").write_text("---\ntools: [lookup_order, refund]\n---\nYou help.")
    result = check(settings)
    assert result.exit_code == 1
    assert ("problem: support.md: tools: refund is not handoff, a tool file (tools/refund.yaml) nor an MCP server of "
            "mcp.yaml (or one's server__tool)") in result.output


def test_an_unset_tool_variable_or_secret_is_a_warning_the_tool_fails_until_it_is_set(settings, prompts):
    (prompts / "tools" / "stock.yaml").write_text("description: Stock.\nurl: ${TOOL_STOCK_URL}/stock\n")
    result = check(settings, TOOLS_WEBHOOK_SECRET="")
    assert result.exit_code == 0
    assert "warning: tools/stock.yaml: TOOL_STOCK_URL not set: the tool fails until it is" in result.output
    assert "warning: TOOLS_WEBHOOK_SECRET is not set: webhook tools fail until it is" in result.output


def test_a_tool_url_from_a_variable_is_held_to_the_allowlist_once_set(settings, prompts):
    (prompts / "tools" / "stock.yaml").write_text("description: Stock.\nurl: ${TOOL_STOCK_URL}/stock\n")
    result = check(settings, TOOL_STOCK_URL="https://10.0.0.8")
    assert result.exit_code == 1 and "problem: tools/stock.yaml: tool host 10.0.0.8 is not in TOOLS_ALLOWLIST" in result.output


def test_a_malformed_webhook_secret_fails_the_check(settings):
    result = check(settings, TOOLS_WEBHOOK_SECRET="whsec_short")
    assert result.exit_code == 1 and "problem: TOOLS_WEBHOOK_SECRET must be whsec_ followed by the base64" in result.output


def test_a_bad_mcp_file_fails_the_check(settings, prompts):
    (prompts / "mcp.yaml").write_text("servers:\n  shop:\n    url: https://mcp.example.com/mcp\n    token: x\n")
    result = check(settings)
    assert result.exit_code == 1 and "problem: mcp.yaml: server shop: unknown field 'token'; known: url, headers, timeout" \
        in result.output


def test_an_edited_tool_file_applies_to_the_next_turn(settings, prompts, shop, llm, telegram):
    bot = Bot(settings)
    bot.say("first")
    source = (prompts / "tools" / "lookup_order.yaml").read_text()
    (prompts / "tools" / "lookup_order.yaml").write_text(source.replace("Look up an order's status", "Find an order"))
    bot.say("second")
    assert [call["tools"][0]["function"]["description"] for call in llm.completions] == [
        "Look up an order's status by its number.", "Find an order by its number."]


def test_a_broken_tool_file_keeps_its_last_good_version_serving(settings, prompts, shop, llm, telegram, caplog):
    bot = Bot(settings)
    bot.say("first")
    (prompts / "tools" / "lookup_order.yaml").write_text("description: [broken\n")
    llm.then(tool_calls(("lookup_order", {"order": "1"})))
    Bot(settings).say("second")  # a fresh process: the last good version is in Redis
    assert [names(call) for call in llm.completions] == [["lookup_order"]] * 3
    assert len(shop.verified) == 1
    assert any(record.getMessage().startswith("TOOL FILE BROKEN, serving its last good version: tools/lookup_order.yaml")
               for record in caplog.records)


def test_a_tool_file_broken_before_it_ever_worked_is_not_offered(settings, prompts, llm, telegram):
    (prompts / "tools" / "lookup_order.yaml").write_text("description: [broken\n")
    Bot(settings).say("hi")
    assert "tools" not in llm.completions[0]


def test_a_prompt_in_a_folder_finds_its_tools_beside_it(settings, prompts, shop, llm, telegram):
    (prompts / "desk").mkdir()
    (prompts / "desk" / "tools").mkdir()
    (prompts / "desk" / "tools" / "track.yaml").write_text(LOOKUP.format(url=shop.url, idempotent="true"))
    (prompts / "desk" / "orders.md").write_text("---\ntools: [track, lookup_order]\n---\nYou track orders.")
    Bot(settings, PROMPT="desk/orders.md").say("hi")
    assert names(llm.completions[0]) == ["track", "lookup_order"]  # its own folder's tools, then the top folder's
    assert check(settings).exit_code == 0
