"""The chat page in a real browser: headless Chromium types a message and sees the reply appear."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)


@pytest.fixture
def max_streams() -> str:
    """WEBCHAT_MAX_STREAMS; a test parametrizes it to 0 to see the page poll instead."""
    return "2"


@pytest.fixture
def settings(settings, max_streams):
    return {**settings, "WEBCHAT_MAX_STREAMS": max_streams}


@pytest.fixture
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_typing_a_message_shows_the_reply(served, llm, start_workers):
    from playwright.sync_api import expect, sync_playwright

    start_workers()
    llm.gate.clear()  # hold the reply long enough to see the typing state
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(f"{served}/chat")
        page.fill("#text", "hello **browser**")
        page.press("#text", "Enter")
        expect(page.locator(".msg.user")).to_have_text("hello **browser**")
        expect(page.locator("#typing")).to_have_text("Bot is typing…", timeout=15000)
        llm.gate.set()
        expect(page.locator(".msg.bot")).to_have_text("LLM: hello browser", timeout=15000)
        assert page.locator(".msg.bot b").inner_text() == "browser"  # the Markdown arrived rendered
        expect(page.locator("#typing")).to_have_text("")
        browser.close()


@pytest.mark.parametrize("max_streams, route", [("2", "/webchat/stream"), ("0", "/webchat/events")])
def test_a_reply_shows_while_it_is_written_then_once_whole(served, llm, start_workers, max_streams, route):
    from playwright.sync_api import expect, sync_playwright

    start_workers()
    llm.midway.clear()  # each streamed answer stops halfway until the test has seen its first half
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        asked = []
        page.on("request", lambda request: asked.append(request.url))
        page.goto(f"{served}/chat")
        page.fill("#text", "one two three four five six")
        page.press("#text", "Enter")
        expect(page.locator(".msg.bot.draft")).to_contain_text("LLM: one", timeout=15000)
        assert page.locator(".msg.bot:not(.draft)").count() == 0  # the first words show before the reply exists
        llm.midway.set()
        expect(page.locator(".msg.bot")).to_have_text(["LLM: one two three four five six"], timeout=15000)
        expect(page.locator(".msg.bot.draft")).to_have_count(0)
        # server-sent events while the process has a stream free; else, after the refused stream, the poll
        polled = any("/webchat/events" in url for url in asked)
        assert any(route in url for url in asked) and polled == (route == "/webchat/events")
        browser.close()
