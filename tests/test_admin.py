"""Admin: rq-dashboard and an overview page, behind basic auth, and absent without credentials."""

from __future__ import annotations

import base64

import pytest

from tests.fakes import openai_error
from tests.helpers import Bot, post_update, update


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def admin(settings) -> Bot:
    return Bot(settings, ADMIN_USERNAME="ops", ADMIN_PASSWORD="s3cret-admin")


def test_admin_needs_its_credentials(admin):
    client = admin.client
    assert client.get("/admin").status_code == 401
    assert client.get("/admin/rq/").status_code == 401
    assert client.get("/admin", headers=basic("ops", "wrong")).status_code == 401
    assert client.get("/admin", headers=basic("ops", "s3cret-admin")).status_code == 200


def test_rq_dashboard_is_mounted(admin):
    response = admin.client.get("/admin/rq/", headers=basic("ops", "s3cret-admin"), follow_redirects=True)
    assert response.status_code == 200 and b"RQ" in response.data


def test_the_overview_lists_usage_handoffs_and_dead_letters(admin, llm):
    client = admin.client
    post_update(client, update("hello"))
    post_update(client, update("talk to a human", chat_id=5))
    llm.then(openai_error(401, "bad key"))  # the first turn fails for good: a dead letter
    admin.run()
    post_update(client, update("again"))
    admin.run()
    page = client.get("/admin", headers=basic("ops", "s3cret-admin")).get_data(as_text=True)
    assert "telegram:5" in page  # handed to a person
    assert "LLM: LLM answered 401" in page  # a dead letter
    assert "telegram:42" in page and "$0.0000" in page  # usage of the user, with its cost


def test_without_credentials_there_is_no_admin(client):
    assert client.get("/admin").status_code == 404


def test_the_dashboard_accepts_heroku_redis_certificates():
    from handlers.admin import _dashboard_url

    assert _dashboard_url("rediss://:pw@host:6380") == "rediss://:pw@host:6380?ssl_cert_reqs=none"
    assert _dashboard_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_the_overview_lists_conversations_newest_first_with_what_has_them(admin):
    client = admin.client
    for chat_id in (1, 2, 3):
        post_update(client, update("hello", chat_id=chat_id))
        admin.run()
    post_update(client, update("talk to a human", chat_id=2))
    admin.run()
    post_update(client, update("still there?", chat_id=1))  # queued: no worker runs
    page = client.get("/admin", headers=basic("ops", "s3cret-admin")).get_data(as_text=True)
    rows = [row for row in page.split("<tr>") if "telegram:" in row and "UTC" not in row][:3]
    assert ["telegram:2" in rows[0], "telegram:3" in rows[1], "telegram:1" in rows[2]] == [True, True, True]
    assert "with a person" in rows[0] and "turn queued or running" in rows[2] and "Ada" in rows[1]
