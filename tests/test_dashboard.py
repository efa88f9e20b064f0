"""rq-dashboard at /admin/rq: its actions are taken from its own pages only, and a new process answers its very first
request."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from tests.helpers import Bot
from tests.test_admin import ADMIN, AUTH

FROM_DASHBOARD = {"X-Requested-With": "XMLHttpRequest", "Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}


def test_cross_site_requests_cannot_empty_or_requeue_the_queues(settings, redis):
    b = Bot(settings, **ADMIN)
    queue = b.app.extensions["bot"].turns.queue
    queue.enqueue_at(datetime.now(timezone.utc) + timedelta(hours=1), "bot.turns.run", "telegram:1")
    assert b.client.get("/admin/rq/0/view/jobs", headers={**AUTH, "Sec-Fetch-Site": "cross-site"}).status_code == 200  # a link
    forged = [{}, {"Sec-Fetch-Site": "cross-site"}, {**FROM_DASHBOARD, "Sec-Fetch-Site": "same-site"},
              {"X-Requested-With": "XMLHttpRequest", "Origin": "https://attacker.example"}]
    for headers in forged:
        assert b.client.post("/admin/rq/queue/turns/scheduled/empty", headers={**AUTH, **headers}).status_code == 403
        assert b.client.get("/admin/rq/requeue/turns", headers={**AUTH, **headers}).status_code == 403
    assert ScheduledJobRegistry(queue=queue).count == 1
    assert b.client.post("/admin/rq/queue/turns/scheduled/empty", headers={**AUTH, **FROM_DASHBOARD}).status_code == 200
    assert ScheduledJobRegistry(queue=queue).count == 0
    assert b.client.post("/admin/rq/requeue/turns", headers={**AUTH, **FROM_DASHBOARD}).get_json()["count"] == 0
    assert FailedJobRegistry(queue=queue).count == 0


@pytest.mark.parametrize("first", ["static file", "action"])
def test_the_first_request_of_a_new_process_may_be_a_static_file_or_an_action(settings, first):
    client = Bot(settings, **ADMIN).client  # a new app: no page of the dashboard served yet
    if first == "static file":
        response = client.get("/admin/rq/static/js/jquery-3.5.1.min.js", headers=AUTH)
    else:
        response = client.post("/admin/rq/queue/turns/queued/empty", headers={**AUTH, **FROM_DASHBOARD})
    assert response.status_code == 200
