"""The operator console's pages and actions through the test client: every action a POST with the page's token from this
origin, user text never markup, the pages' security headers."""

from __future__ import annotations

import json
import re

import pytest

from bot.ops import deadletters
from bot.turn import handoff
from tests.fakes import openai_error
from tests.helpers import Bot, dead_letters, post_update, update
from tests.test_admin import ADMIN, AUTH, page

PLANTED = "<img src=x onerror=alert(origin)>"


@pytest.fixture
def admin(settings) -> Bot:
    return Bot(settings, **ADMIN)


def token(client, path: str = "/admin/prompts") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page(client, path)).group(1)


def test_an_action_needs_the_pages_token_and_this_origin(admin, llm):
    llm.then(openai_error(401, "bad key"))
    post_update(admin.client, update("hello"))
    admin.run()
    client, good = admin.client, {"csrf": token(admin.client), "confirm": "purge"}
    forged = [({**good, "csrf": "made-up"}, {}), ({"confirm": "purge"}, {}), (good, {"Origin": "https://attacker.example"}),
              (good, {"Sec-Fetch-Site": "cross-site"}), (good, {"Sec-Fetch-Site": "same-site"})]
    for form, headers in forged:
        assert client.post("/admin/dead-letters/purge", data=form, headers={**AUTH, **headers}).status_code == 403
    assert client.get("/admin/dead-letters/purge", headers=AUTH).status_code == 405  # no action by GET
    assert len(dead_letters(admin.rt.redis)) == 1
    unconfirmed = client.post("/admin/dead-letters/purge", data={"csrf": good["csrf"]}, headers=AUTH)
    assert unconfirmed.status_code == 303 and len(dead_letters(admin.rt.redis)) == 1
    done = client.post("/admin/dead-letters/purge", data=good, headers={**AUTH, "Origin": "http://localhost",
                                                                      "Sec-Fetch-Site": "same-origin"})
    assert done.status_code == 303 and done.headers["Location"] == "/admin/dead-letters?done=purged"
    assert dead_letters(admin.rt.redis) == []


def test_a_form_goes_back_to_a_console_page_only(admin):
    csrf = token(admin.client)
    for back in ("https://attacker.example/admin", "//attacker.example/admin", "/admin\r\nSet-Cookie: a=b", "/admin\\x", "/chat"):
        answer = admin.client.post("/admin/dead-letters/purge", data={"csrf": csrf, "back": back}, headers=AUTH)
        assert answer.status_code == 303 and answer.headers["Location"] == "/admin/dead-letters?done=confirm", back


def test_a_token_from_another_password_is_refused(settings, admin):
    other = Bot(settings, ADMIN_USERNAME="ops", ADMIN_PASSWORD="another-horse-battery-staple")
    stale = token(admin.client)
    assert other.client.post("/admin/dead-letters/purge", data={"csrf": stale, "confirm": "purge"},
                             headers={"Authorization": "Basic b3BzOmFub3RoZXItaG9yc2UtYmF0dGVyeS1zdGFwbGU="}).status_code == 403


def test_what_a_user_wrote_is_never_markup(admin):
    post_update(admin.client, update(PLANTED))
    admin.run()
    shown = page(admin.client, "/admin/conversations/telegram:123456789")
    assert "&lt;img src=x onerror=alert(origin)&gt;" in shown and PLANTED not in shown


def test_console_pages_allow_only_their_own_files(admin):
    for path in ("/admin", "/admin/conversations", "/admin/conversations/telegram:1", "/admin/dead-letters", "/admin/handoff",
                 "/admin/prompts"):
        response = admin.client.get(path, headers=AUTH)
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy and "unsafe" not in policy, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
    chart = admin.client.get("/admin/static/vendor/uplot/uPlot.iife.min.js", headers=AUTH)
    assert chart.status_code == 200 and chart.mimetype == "text/javascript"


def test_pause_from_the_console_and_replies_it_refuses(admin, telegram):
    admin.say("hello")
    client, csrf = admin.client, token(admin.client)
    paused = client.post("/admin/conversations/telegram:123456789/pause", data={"csrf": csrf}, headers=AUTH)
    assert paused.headers["Location"] == "/admin/conversations/telegram:123456789?done=paused"
    assert handoff.status(admin.rt.redis, "telegram:123456789")["by"] == "console"
    assert "Resume: the bot answers again" in page(client, "/admin/conversations/telegram:123456789?done=paused")
    form = re.search(r'name="form" value="([0-9a-f]{32})"', page(client, "/admin/conversations/telegram:123456789")).group(1)
    refused = [("telegram:123456789", {"text": "  ", "form": form}, "Not sent: write a reply of 1 to 4000 characters."),
               ("telegram:555", {"text": "hi", "form": form}, "Nobody has written in this conversation yet"),
               ("telegram:123456789", {"text": "hi"}, "Not sent: reload the page and write it again.")]
    for conversation, fields, said in refused:
        sent = client.post(f"/admin/conversations/{conversation}/reply", data={**fields, "csrf": csrf}, headers=AUTH)
        assert said in page(client, sent.headers["Location"])
    admin.run()
    assert len(telegram.sent) == 1  # nothing more was sent
    assert handoff.resume(admin.rt.redis, "telegram:123456789")
    for name, ends in (("telegram:123456789", "telegram:123456789?done=paused"), ("telegram:555", "/admin/handoff?done=unknown")):
        done = client.post("/admin/handoff", data={"conversation": name, "csrf": csrf}, headers=AUTH)
        assert done.status_code == 303 and done.headers["Location"].endswith(ends)
    nobody = client.post("/admin/conversations/telegram:555/pause", data={"csrf": csrf}, headers=AUTH)
    assert nobody.headers["Location"] == "/admin/conversations/telegram:555?done=unknown"
    assert handoff.status(admin.rt.redis, "telegram:123456789") and not handoff.status(admin.rt.redis, "telegram:555")
    for _ in range(2):  # a double click on Send
        client.post("/admin/conversations/telegram:123456789/reply", data={"text": "Sam here.", "form": form, "csrf": csrf},
                    headers=AUTH)
    admin.run()
    assert [message["text"] for message in telegram.sent][1:] == ["Sam here."]


def test_the_prompts_page_shows_the_last_check_from_the_release_or_the_console(admin):
    assert "Not run yet" in page(admin.client, "/admin/prompts")
    assert admin.app.test_cli_runner().invoke(args=["prompts", "check"]).exit_code == 0
    shown = page(admin.client, "/admin/prompts")
    assert '<b class="good">ok</b>' in shown and "system.md" in shown
    done = admin.client.post("/admin/prompts/check", data={"csrf": token(admin.client)}, headers=AUTH)
    assert done.headers["Location"] == "/admin/prompts?done=checked"
    assert "Prompts checked." in page(admin.client, done.headers["Location"])


def test_a_replay_cut_short_can_be_done_again_and_puts_back_nothing_twice(admin, llm, telegram):
    llm.then(openai_error(401, "bad key"))
    admin.say("are you there?")
    [letter] = dead_letters(admin.rt.redis)
    redis = admin.rt.redis
    assert deadletters.replay(admin.rt, letter["id"])["id"] == letter["id"]
    # As if its process had died before forgetting the letter, and the letter's claim had lapsed since:
    redis.set(f"bot:dead:{letter['id']}", json.dumps(letter))
    redis.zadd("bot:dead", {letter["id"]: letter["at"]})
    redis.delete(f"bot:seen:replay:{letter['id']}")
    assert deadletters.replay(admin.rt, letter["id"])["id"] == letter["id"]
    admin.run()
    assert [message["text"] for message in telegram.sent][1:] == ["LLM: are you there?"]
    assert dead_letters(redis) == []


def test_a_dead_letter_replayed_twice_is_answered_once(admin, llm, telegram):
    llm.then(openai_error(401, "bad key"))
    admin.say("are you there?")  # a notice, and the turn kept as a dead letter
    [letter] = dead_letters(admin.rt.redis)
    csrf = token(admin.client)
    answers = [admin.client.post(f"/admin/dead-letters/{letter['id']}/replay", data={"csrf": csrf}, headers=AUTH)
               for _ in range(2)]  # a double click
    assert [answer.headers["Location"].split("=")[-1] for answer in answers] == ["replayed", "gone"]
    admin.run()
    assert [message["text"] for message in telegram.sent][1:] == ["LLM: are you there?"]
