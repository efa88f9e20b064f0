"""The shipped example, as docs/tools.md walks through it: the order-desk prompt, its lookup_order tool, and the
order service of docs/order_service.py checking each call's signature."""

from __future__ import annotations

import json
import runpy
import threading

import pytest
import requests
from werkzeug.serving import make_server

from app import create_app
from tests.conftest import ROOT
from tests.fakes import tool_calls
from tests.helpers import Bot, texts
from tests.vendors import STANDARD_SECRET


@pytest.fixture
def orders(monkeypatch):
    """docs/order_service.py, served on a free loopback port."""
    monkeypatch.setenv("TOOLS_WEBHOOK_SECRET", STANDARD_SECRET)  # the service's own setting, as the docs run it
    server = make_server("127.0.0.1", 0, runpy.run_path(str(ROOT / "docs" / "order_service.py"))["app"], threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def settings(settings, orders):
    return {**settings, "PROMPTS_DIR": str(ROOT / "prompts"), "PROMPT": "examples/order-desk.md",
            "TOOL_ORDER_SERVICE_URL": orders, "TOOLS_ALLOWLIST": orders.removeprefix("http://"),
            "TOOLS_WEBHOOK_SECRET": STANDARD_SECRET}


def test_without_a_key_the_offline_stand_in_looks_an_order_up(settings, telegram):
    offline = {name: value for name, value in settings.items() if name not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    Bot(offline).say("/tool lookup_order order=1042")
    [reply] = texts(telegram)
    assert reply.startswith("(offline model) the tool said: ")
    assert json.loads(reply.split(": ", 1)[1]) == {"order": "1042", "found": True, "status": "shipped", "carrier": "DHL",
                                                   "tracking": "https://track.example.com/JD0146", "expected": "2027-01-08"}


def test_the_model_answers_from_the_order_service(settings, llm, telegram):
    llm.then(tool_calls(("lookup_order", {"order": "#1043"})))
    Bot(settings).say("where is my order #1043?")
    assert [tool["function"]["name"] for tool in llm.completions[0]["tools"]] == ["lookup_order", "handoff"]
    assert json.loads(llm.completions[1]["messages"][-1]["content"]) == {"order": "1043", "found": True,
                                                                        "status": "being packed", "expected": "2027-01-11"}
    assert len(texts(telegram)) == 1


def test_the_order_service_refuses_a_call_the_bot_did_not_sign(orders):
    body = {"type": "tool.call", "data": {"tool": "lookup_order", "arguments": {"order": "1042"}}}
    assert requests.post(f"{orders}/bot-tools/lookup-order", json=body, timeout=5).status_code == 401


def test_the_example_checks_clean_once_configured_and_warns_until_it_is(settings):
    configured = create_app(settings).test_cli_runner().invoke(args=["prompts", "check"])
    assert configured.exit_code == 0 and "warning" not in configured.output
    unset = {name: value for name, value in settings.items() if name != "TOOL_ORDER_SERVICE_URL"}
    result = create_app(unset).test_cli_runner().invoke(args=["prompts", "check"])
    assert result.exit_code == 0
    warning = "warning: examples/tools/lookup_order.yaml: TOOL_ORDER_SERVICE_URL not set: the tool fails until it is"
    assert warning in result.output
