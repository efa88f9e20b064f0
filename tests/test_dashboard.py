"""rq-dashboard at /admin/rq: no job it shows carries what a user or a caller wrote, its actions are taken from its own
pages only, and a new process answers its very first request."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from tests.fakes import Canned, FakePlatform
from tests.helpers import Bot, post_update, update
from tests.test_admin import ADMIN, AUTH
from tests.vendors import STANDARD_SECRET

PLANTED = "<img src=1 onerror=alert(origin)>"
FROM_DASHBOARD = {"X-Requested-With": "XMLHttpRequest", "Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}
API = {"Authorization": "Bearer api-token-for-tests"}


@pytest.fixture
def receiver():
    server = FakePlatform().start()
    yield server
    server.stop()


def shown(client, job_id: str) -> str:
    """What the dashboard shows of a job: its page, and the data the page's script writes into it unescaped."""
    page = client.get(f"/admin/rq/0/view/job/{job_id}", headers=AUTH)
    data = client.get(f"/admin/rq/0/data/job/{job_id}.json", headers={**AUTH, **FROM_DASHBOARD})
    assert page.status_code == data.status_code == 200
    return page.get_data(as_text=True) + data.get_data(as_text=True)


def carried(redis, job_id: str) -> str:
    """What the job itself keeps, all of which the dashboard may show: it cuts long arguments short, unless told not to."""
    job = Job.fetch(job_id, connection=redis)
    return f"{job.description} {job.args!r} {job.kwargs!r} {job.meta!r} {job.return_value()!r}"


def every_job(redis) -> list[str]:
    """The id of every job RQ keeps, whatever its queue or state."""
    return [key.decode().split(":")[2] for key in redis.scan_iter(match="rq:job:*") if key.count(b":") == 2]


def schedule(b: Bot, text: str) -> dict:
    """The user writes once; then the API schedules `text` to them in an hour."""
    b.say("hi")
    at = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    response = b.client.post("/api/messages", json={"conversation": "telegram:123456789", "text": text, "at": at}, headers=API)
    assert response.status_code == 202
    return response.get_json()


def test_a_scheduled_messages_job_does_not_carry_its_text(settings, redis):
    b = Bot(settings, API_TOKEN="api-token-for-tests", **ADMIN)
    schedule(b, PLANTED)
    [job_id] = ScheduledJobRegistry(queue=b.rt.turns.queue).get_job_ids()
    page = shown(b.client, job_id)
    assert "onerror" not in page and "send_scheduled" in page
    assert all("onerror" not in shown(b.client, job) + carried(redis, job) for job in every_job(redis))


def test_event_jobs_do_not_carry_what_users_wrote(settings, redis, receiver):
    b = Bot(settings, EVENTS_URLS=f"{receiver.url}/events", EVENTS_SECRET=STANDARD_SECRET, **ADMIN)
    receiver.then(Canned(status=503, body={}))  # one delivery fails: its job keeps an exception for the dashboard too
    post_update(b.client, update(PLANTED))
    b.run()
    jobs = every_job(redis)
    assert len(jobs) == 3 and len(receiver.delivered) == 1  # the turn, and its two events: one delivered, one to retry
    assert all("onerror" not in shown(b.client, job) + carried(redis, job) for job in jobs)
    assert len(redis.keys("bot:event:*")) == 1  # the delivered event's body is gone; the other waits for its retry


def test_cross_site_requests_cannot_empty_or_requeue_the_queues(settings, redis):
    b = Bot(settings, **ADMIN)
    queue = b.rt.turns.queue
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
