"""MCP tools: a real MCP server (the official SDK's, on loopback) lists its tools, the model calls them, all held to
the allowlist and the journal as webhook tools are."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import create_app
from bot.ops import ledger
from bot.tools.loop import UNKNOWN_RESULT
from bot.tools.mcp import exposed
from bot.worker.local import free_port
from tests.conftest import ROOT, stop_group
from tests.fakes import tool_calls
from tests.helpers import Bot, post_update, texts, update
from tests.test_tools import names

MCP_FILE = """servers:
  shop:
    url: http://127.0.0.1:{port}/mcp
    headers: {{Authorization: "Bearer ${{TOOL_SHOP_MCP_TOKEN}}"}}
    timeout: 10
"""


class MCPServer:
    """tests/mcp_server.py in a process of its own, on a free port; `log` lists what it was sent."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.path = free_port(), workdir / "mcp.log"
        self.process = subprocess.Popen([sys.executable, "-m", "tests.mcp_server", str(self.port), str(self.path)], cwd=ROOT)
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", self.port)) != 0:
            assert time.monotonic() < deadline and self.process.poll() is None, "the MCP server did not start"
            time.sleep(0.05)

    def log(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text().splitlines()] if self.path.exists() else []

    def calls(self) -> list[dict]:
        return [entry for entry in self.log() if "tool" in entry]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def mcp_server(tmp_path_factory):
    server = MCPServer(tmp_path_factory.mktemp("mcp"))
    yield server
    server.stop()


@pytest.fixture
def mcp(mcp_server):
    mcp_server.path.unlink(missing_ok=True)  # each test counts its own requests
    return mcp_server


@pytest.fixture
def prompts(tmp_path, mcp):
    (tmp_path / "system.md").write_text("---\ntools: [shop]\n---\nYou help customers with their orders.")
    (tmp_path / "mcp.yaml").write_text(MCP_FILE.format(port=mcp.port))
    return tmp_path


@pytest.fixture
def settings(settings, prompts, mcp):
    return {**settings, "PROMPTS_DIR": str(prompts), "TOOLS_ALLOWLIST": f"127.0.0.1:{mcp.port}",
            "TOOL_SHOP_MCP_TOKEN": "mcp-token", "LEASE_SECONDS": "2"}


def test_a_servers_tools_are_offered_under_its_name_and_called(settings, llm, telegram, mcp, redis):
    llm.then(tool_calls(("shop__lookup_order", {"order": "1042"})))
    Bot(settings).say("where is 1042?", update_id=1)
    assert names(llm.completions[0]) == ["shop__lookup_order", "shop__refund", "shop__cancel"]
    assert llm.completions[0]["tools"][0]["function"]["description"] == "Look up an order's status by its number."
    assert texts(telegram) == ["LLM: order 1042: shipped"]
    assert mcp.calls() == [{"tool": "lookup_order", "arguments": {"order": "1042"}}]
    assert {entry["authorization"] for entry in mcp.log() if "http" in entry} == {"Bearer mcp-token"}  # from TOOL_ variables
    assert ledger.lookup(redis, "telegram", "1")["tools"][0]["tool"] == "shop__lookup_order"


def test_a_prompt_may_enable_one_tool_of_a_server(settings, prompts, llm, telegram, mcp):
    (prompts / "system.md").write_text("---\ntools: [shop__lookup_order, handoff]\n---\nYou look orders up.")
    Bot(settings).say("hi")
    assert names(llm.completions[0]) == ["shop__lookup_order", "handoff"]


def test_a_tools_error_is_a_result_the_model_sees(settings, llm, telegram, mcp):
    llm.then(tool_calls(("shop__cancel", {"order": "7"})))
    Bot(settings).say("cancel 7")
    result = llm.completions[1]["messages"][-1]["content"]
    assert result == "the tool failed: Error executing tool cancel: order 7 has shipped already"  # the SDK's words


def test_an_mcp_server_off_the_allowlist_fails_the_check_and_is_never_reached(settings, llm, telegram, mcp):
    bot = create_app({**settings, "TOOLS_ALLOWLIST": "mcp.example.com"})
    result = bot.test_cli_runner().invoke(args=["prompts", "check"])
    assert result.exit_code == 1
    assert f"problem: mcp.yaml: server shop: tool host 127.0.0.1:{mcp.port} is not in TOOLS_ALLOWLIST" in result.output
    Bot(settings, TOOLS_ALLOWLIST="mcp.example.com").say("hi")
    assert "tools" not in llm.completions[0] and mcp.log() == [] and texts(telegram) == ["LLM: hi"]


def test_names_fit_what_openai_takes():
    assert exposed("shop", "lookup.order v2") == "shop__lookup_order_v2"
    long = exposed("shop", "x" * 80)
    assert len(long) == 64 and long != exposed("shop", "x" * 81)


def test_a_call_without_idempotent_hint_in_flight_when_its_worker_dies_is_never_sent_again(settings, client, redis, llm, telegram,
                                                                                            mcp, start_workers):
    llm.then(tool_calls(("shop__refund", {"order": "1042"})))
    post_update(client, update("refund 1042", update_id=7201))
    [first] = start_workers()
    llm.wait_for(lambda: len(mcp.calls()) == 1)  # the refund is under way at the server
    stop_group(first, signal.SIGKILL)
    first.wait()
    start_workers()
    telegram.wait_for(lambda: ledger.lookup(redis, "telegram", "7201") is not None, timeout=60)
    assert mcp.calls() == [{"tool": "refund", "arguments": {"order": "1042"}}]
    assert texts(telegram) == [f"LLM: {UNKNOWN_RESULT}"]
