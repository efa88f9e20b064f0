"""rq-dashboard in a real browser: a planted message runs no script in the job page, and the dashboard's own buttons
still work under its security headers and the guard against cross-site requests."""

from __future__ import annotations

import pytest
from rq.registry import ScheduledJobRegistry

from tests import test_browser
from tests.helpers import Bot
from tests.test_admin import ADMIN, PASSWORD
from tests.test_dashboard import PLANTED, schedule

served = test_browser.served  # the app below, served on a loopback port (skipped, like that module, without chromium)


@pytest.fixture
def admin(settings) -> Bot:
    return Bot(settings, API_TOKEN="api-token-for-tests", **ADMIN)


@pytest.fixture
def app(admin):
    return admin.app


@pytest.fixture
def browser_page(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=test_browser.CHROMIUM, args=test_browser.CHROMIUM_FLAGS)
        page = browser.new_page(http_credentials={"username": "ops", "password": PASSWORD}, base_url=served)
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        yield page
        browser.close()


def test_the_job_page_of_a_planted_message_runs_no_script(admin, browser_page):
    from playwright.sync_api import expect

    schedule(admin, PLANTED)
    [job_id] = ScheduledJobRegistry(queue=admin.rt.turns.queue).get_job_ids()
    browser_page.goto(f"/admin/rq/0/view/job/{job_id}")
    expect(browser_page.locator("#job-data")).to_contain_text("send_scheduled", timeout=15000)  # its script ran
    assert browser_page.locator("#job-data img").count() == 0 and browser_page.dialogs == []


def test_the_dashboards_own_buttons_still_work(admin, browser_page):
    from playwright.sync_api import expect

    schedule(admin, "See you tomorrow.")
    scheduled = ScheduledJobRegistry(queue=admin.rt.turns.queue)
    browser_page.goto("/admin/rq/0/view/jobs/turns/scheduled/8/asc/1")
    expect(browser_page.locator("#jobs [data-role=job]")).to_have_count(1, timeout=15000)
    browser_page.click("#empty-btn")
    browser_page.click("#confirmation-modal-yes")
    expect(browser_page.locator("#jobs [data-role=job]")).to_have_count(0, timeout=15000)
    assert scheduled.count == 0
