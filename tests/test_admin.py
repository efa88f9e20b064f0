"""Admin: rq-dashboard and an overview page, behind basic auth, and absent without credentials or with a weak password."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest

from bot.ops import directory, logs, rejects
from tests.fakes import openai_error
from tests.helpers import ROOT, Bot, post_update, update

PASSWORD = "correct-horse-battery-staple"
ADMIN = {"ADMIN_USERNAME": "ops", "ADMIN_PASSWORD": PASSWORD}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


AUTH = basic("ops", PASSWORD)


@pytest.fixture
def admin(settings) -> Bot:
    return Bot(settings, **ADMIN)


def test_admin_needs_its_credentials(admin):
    client = admin.client
    assert client.get("/admin").status_code == 401
    assert client.get("/admin/rq/").status_code == 401
    assert client.get("/admin", headers=basic("ops", "wrong")).status_code == 401
    assert client.get("/admin", headers=AUTH).status_code == 200


def test_wrong_credentials_are_throttled_per_client_address(admin):
    client = admin.client
    statuses = [client.get("/admin", headers=basic("ops", f"guess-{n}")).status_code for n in range(11)]
    assert statuses == [401] * 10 + [429]
    assert client.get("/admin", headers=AUTH).status_code == 429  # the right password waits out the minute too
    assert client.get("/admin/rq/", headers=AUTH).status_code == 429
    elsewhere = client.get("/admin", headers=AUTH, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert elsewhere.status_code == 200


def test_an_address_written_by_the_client_neither_escapes_the_throttle_nor_locks_the_admin_out(admin):
    client, admins = admin.client, {**AUTH, "X-Forwarded-For": "192.0.2.7"}  # the router says where each came from
    for n in range(10):  # each guess names the admin's address, then a new one, before the router's (TRUSTED_PROXIES=1)
        forged = {**basic("ops", f"guess-{n}"), "X-Forwarded-For": f"192.0.2.7, 198.51.100.{n}, 203.0.113.9"}
        assert client.get("/admin", headers=forged).status_code == 401
    assert client.get("/admin", headers={**AUTH, "X-Forwarded-For": "198.51.100.1, 203.0.113.9"}).status_code == 429
    assert client.get("/admin", headers=admins).status_code == 200


def test_a_weak_password_leaves_admin_off_and_fails_the_release_check(settings, caplog):
    for weak in ("s3cret-admin", "abababababababababab"):
        b = Bot(settings, ADMIN_USERNAME="ops", ADMIN_PASSWORD=weak)
        assert b.client.get("/admin", headers=basic("ops", weak)).status_code == 404
        assert b.client.get("/admin/rq/", headers=basic("ops", weak)).status_code == 404
        result = b.app.test_cli_runner().invoke(args=["check"])
        assert result.exit_code == 1 and "ADMIN_PASSWORD is too weak" in result.output
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert any("ADMIN_PASSWORD is too weak, so /admin stays off" in line for line in errors)
    assert Bot(settings, **ADMIN).app.test_cli_runner().invoke(args=["check"]).exit_code == 0


def test_the_admin_password_is_never_logged_whatever_its_length(settings):
    env = {**os.environ, **settings, "ADMIN_USERNAME": "ops", "ADMIN_PASSWORD": "pw4"}
    script = "import logging, app; app.create_app(); logging.getLogger('probe').warning('signed in with pw4')"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert "signed in with [secret]" in result.stderr and "pw4" not in result.stderr


def test_counts_of_tokens_are_not_secrets_but_url_passwords_are():
    env = {"OPENAI_MAX_TOKENS_PARAMETER": "max_completion_tokens", "USER_DAILY_TOKENS": "100000",
           "REDIS_URL": "rediss://:p4ssw0rd-of-redis@redis.example.com:6380"}
    assert logs.secrets_in(env) == ["p4ssw0rd-of-redis"]


def test_the_logs_and_the_kept_payloads_take_the_same_names_for_secret():
    env = {"TWILIO_ACCOUNT_SID": "AC0123456789", "SLACK_SIGNING_SECRET": "slack-secret", "USER_DAILY_TOKENS": "100000"}
    payload = {"AccountSid": "AC0123456789", "signing_secret": "slack-secret", "daily_tokens": "100000"}
    assert sorted(logs.secrets_in(env)) == ["AC0123456789", "slack-secret"]
    assert rejects.redact(payload) == {"AccountSid": "[removed]", "signing_secret": "[removed]", "daily_tokens": "100000"}


def test_every_page_says_how_it_may_be_shown(admin):
    pages = {"/admin": AUTH, "/admin/rq/": AUTH, "/admin/rq/0/view/workers": AUTH, "/chat": {}, "/no-such-page": {}}
    for path, headers in pages.items():
        response = admin.client.get(path, headers=headers)
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "no-referrer", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
    chat = admin.client.get("/chat")
    policy = chat.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "default-src 'none'" in policy
    nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
    assert chat.get_data(as_text=True).count(f'nonce="{nonce}"') == 2  # its one style and one script, nothing else
    assert "'unsafe-inline'" not in admin.client.get("/admin", headers=AUTH).headers["Content-Security-Policy"]


def test_rq_dashboard_is_mounted(admin):
    response = admin.client.get("/admin/rq/", headers=AUTH, follow_redirects=True)
    assert response.status_code == 200 and b"RQ" in response.data


def test_the_console_lists_usage_handoffs_and_dead_letters(admin, llm):
    client = admin.client
    post_update(client, update("hello"))
    post_update(client, update("talk to a human", chat_id=5))
    llm.then(openai_error(401, "bad key"))  # the first turn fails for good: a dead letter
    admin.run()
    post_update(client, update("again"))
    admin.run()
    assert "telegram:5" in page(client, "/admin/handoff")  # handed to a person
    assert "LLM: LLM answered 401" in page(client, "/admin/dead-letters")
    overview = page(client, "/admin")
    assert "telegram:42" in overview and "$0.0000" in overview  # usage of the user, with its cost
    assert "replied <b>1</b>" in overview and "notice <b>1</b>" in overview  # the last hour's turns by outcome


def test_without_credentials_there_is_no_admin(client):
    assert client.get("/admin").status_code == 404


def test_the_dashboard_accepts_heroku_redis_certificates():
    from handlers.admin import _dashboard_url

    assert _dashboard_url("rediss://:pw@host:6380") == "rediss://:pw@host:6380?ssl_cert_reqs=none"
    assert _dashboard_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_conversations_are_listed_newest_first_with_what_has_them_and_searched(admin):
    client = admin.client
    for chat_id in (1, 2, 3):
        post_update(client, update("hello", chat_id=chat_id))
        admin.run()
    post_update(client, update("talk to a human", chat_id=2))
    admin.run()
    post_update(client, update("still there?", chat_id=1))  # queued: no worker runs
    listed = page(client, "/admin/conversations")
    rows = [row for row in listed.split("<tr>") if "telegram:" in row]
    assert ["telegram:2" in rows[0], "telegram:3" in rows[1], "telegram:1" in rows[2]] == [True, True, True]
    assert "handed to a person" in rows[0] and ">queued<" in rows[2] and "Ada" in rows[1]
    searched = {query: page(client, f"/admin/conversations?q={query}") for query in ("gram:3", ":3", "ADA", "bob")}
    assert "telegram:3" in searched["gram:3"] and "telegram:2" not in searched[":3"] and "none found" in searched["bob"]
    assert searched["ADA"].count(">telegram:") == 3  # by the user's name, whatever its case
    pages = [directory.page(admin.rt.redis, "", number, size=2) for number in (1, 2)]
    assert [([row["conversation"] for row in rows], more) for rows, more in pages] == [
        (["telegram:2", "telegram:3"], True), (["telegram:1"], False)]
    for odd in ("99999999999999999999", "-3", "two", "٣", "1e3"):  # past the last page, or no number: a page all the same
        assert "</table>" in page(client, f"/admin/conversations?page={odd}&q=%F0%9F%98%80%00")


def page(client, path: str) -> str:
    response = client.get(path, headers=AUTH)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)
