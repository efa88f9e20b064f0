"""The operator console in a real browser (Debian's Chromium, as the chat page's test): a chat appears with both sides of
its transcript, a dead letter is replayed and answered, a person answers a handed-off conversation and gives it back, and a
cross-site form is refused. A screenshot of each page is kept in .screenshots/, its path printed."""

from __future__ import annotations

import re

import pytest

from bot.ops import series, transcript
from tests import test_browser
from tests.fakes import openai_error
from tests.helpers import ROOT, Bot, dead_letters, post_update, texts, update
from tests.test_admin import ADMIN, PASSWORD

served = test_browser.served  # the app below on a loopback port (skipped, like that module, without chromium)
ADA = "telegram:123456789"
WAIT = {"timeout": 15000}
SCREENSHOTS = ROOT / ".screenshots"  # past the run: pytest's own tmp directories are deleted three runs later


@pytest.fixture
def admin(settings) -> Bot:
    return Bot(settings, **ADMIN)


@pytest.fixture
def app(admin):
    return admin.app


@pytest.fixture
def browser(served, start_workers):
    from playwright.sync_api import sync_playwright

    start_workers()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=test_browser.CHROMIUM, args=test_browser.CHROMIUM_FLAGS)
        yield chromium.new_context(http_credentials={"username": "ops", "password": PASSWORD}, base_url=served)
        chromium.close()


@pytest.fixture
def shoot():
    """Keep a screenshot of the page for a person to look at, in SCREENSHOTS."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def shot(page, name: str) -> None:
        path = SCREENSHOTS / f"console-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
    return shot


def test_a_chat_appears_with_both_sides_and_their_outcomes(browser, redis, telegram, shoot):
    from playwright.sync_api import expect

    chat, console = browser.new_page(), browser.new_page()
    chat.goto("/chat")
    chat.fill("#text", "hello <b>console</b>")
    chat.press("#text", "Enter")
    expect(chat.locator(".msg.bot")).to_have_text("LLM: hello <b>console</b>", **WAIT)
    telegram.wait_for(lambda: series.window(redis, 60)["total"]["turns"])  # the worker's counts flushed, at its job's end
    console.goto("/admin")
    expect(console.locator(".chart canvas")).to_have_count(8, **WAIT)  # uPlot drew the hour's and the day's charts
    expect(console.locator(".window").first).to_contain_text("replied 1")
    shoot(console, "overview")
    console.click("text=Conversations")
    expect(console.locator("#conversations")).to_contain_text("webchat:")
    shoot(console, "conversations")
    console.click("#conversations a >> text=/^webchat:/")
    user, bot = console.locator(".entry.user"), console.locator(".entry.bot")
    expect(user).to_contain_text("hello <b>console</b>")  # shown as text, never markup
    expect(bot).to_contain_text("LLM: hello <b>console</b>")
    expect(user.locator(".outcome")).to_have_text("replied")
    expect(bot.locator(".outcome")).to_have_text("replied")
    expect(bot.locator(".prompt")).to_contain_text("system.md@")
    assert re.search(r"\d+ ms", bot.inner_text()) and console.locator(".entry b:not(.who)").count() == 0
    shoot(console, "conversation")
    console.click("text=Queues and workers")
    expect(console.locator("#queues")).to_contain_text("turns", **WAIT)  # rq-dashboard's script ran: not "Loading..."
    shoot(console, "rq-dashboard")


def test_a_dead_letter_is_replayed_and_answered(admin, browser, redis, llm, telegram, shoot):
    from playwright.sync_api import expect

    llm.then(openai_error(401, "bad key"))
    post_update(admin.client, update("are you there?"))
    telegram.wait_for(lambda: len(telegram.sent) == 1)  # the failure notice
    page = browser.new_page()
    page.goto("/admin/dead-letters")
    expect(page.locator("#letters")).to_contain_text("LLM answered 401")
    expect(page.locator("#letters")).to_contain_text("are you there?")
    shoot(page, "dead-letters")
    page.click("#letters button:text('Replay')")
    expect(page.locator(".notice")).to_contain_text("Replayed")
    telegram.wait_for(lambda: texts(telegram)[-1:] == ["LLM: are you there?"])
    assert dead_letters(redis) == []
    telegram.wait_for(lambda: transcript.entries(redis, ADA)[-1]["outcome"] == "replied")
    page.goto(f"/admin/conversations/{ADA}")
    expect(page.locator(".entry.bot").last).to_contain_text("LLM: are you there?")
    expect(page.locator(".entry.bot .outcome").last).to_have_text("replied")


def test_a_person_answers_a_handed_off_conversation_and_gives_it_back(admin, browser, redis, llm, telegram, shoot):
    from playwright.sync_api import expect

    post_update(admin.client, update("talk to a human"))
    telegram.wait_for(lambda: len(telegram.sent) == 1)  # the handoff notice
    page = browser.new_page()
    page.goto("/admin/handoff")
    expect(page.locator("section.paused h2")).to_have_text(ADA)
    page.fill("section.paused textarea", "Hi Ada, Sam here: your order ships today.")
    page.click("section.paused button:text('Send reply')")
    expect(page.locator(".notice")).to_contain_text("Sent")
    telegram.wait_for(lambda: texts(telegram)[-1:] == ["Hi Ada, Sam here: your order ships today."])
    shoot(page, "handoff")
    post_update(admin.client, update("thanks!"))  # the person has the conversation: the bot stays silent
    telegram.wait_for(lambda: transcript.entries(redis, ADA)[-1]["text"] == "thanks!")
    page.goto(f"/admin/conversations/{ADA}")
    expect(page.locator(".entry.person")).to_contain_text("Sam here")
    expect(page.locator(".entry.user").last).to_contain_text("thanks!")
    expect(page.locator(".entry.user .outcome").last).to_have_text("handoff")
    page.click("button:text('Resume')")
    expect(page.locator(".notice")).to_contain_text("The bot answers again")
    post_update(admin.client, update("one more question"))
    telegram.wait_for(lambda: texts(telegram)[-1:] == ["LLM: thanks! + one more question"])  # the kept message too
    said = {"role": "assistant", "content": "Hi Ada, Sam here: your order ships today.", "name": "person"}
    assert said in llm.completions[-1]["messages"]  # the model knows a person said it
    telegram.wait_for(lambda: [entry["who"] for entry in transcript.entries(redis, ADA)][-2:] == ["user", "bot"])
    assert len(telegram.sent) == 3
    page.goto("/admin/prompts")
    expect(page.locator("#prompts")).to_contain_text("system.md")
    shoot(page, "prompts")


def test_a_cross_site_form_is_refused_even_with_a_stolen_token(admin, browser, llm, telegram):
    llm.then(openai_error(401, "bad key"))
    post_update(admin.client, update("hello"))
    telegram.wait_for(lambda: len(telegram.sent) == 1)
    page = browser.new_page()
    page.goto("/admin/dead-letters")  # signed in: the browser now sends the credentials with any request to the console
    stolen = page.locator("input[name=csrf]").first.get_attribute("value")
    target = page.url.replace("/admin/dead-letters", "/admin/dead-letters/purge")
    attack = (f'<form method="post" action="{target}"><input name="csrf" value="{stolen}"><input name="confirm" value="purge">'
              '</form><script>document.forms[0].submit()</script>')
    page.route("http://attacker.example/", lambda route: route.fulfill(body=attack, content_type="text/html"))
    with page.expect_response(target) as answer:
        page.goto("http://attacker.example/")
    assert answer.value.status == 403 and len(dead_letters(admin.rt.redis)) == 1
