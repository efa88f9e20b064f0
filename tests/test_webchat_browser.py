"""The chat page's photo and voice note buttons in headless Chromium, answered by the offline stand-in model."""

from __future__ import annotations

import re

import pytest

from tests.samples_media import png
from tests.test_browser import CHROMIUM, CHROMIUM_FLAGS, served  # noqa: F401 (served: the fixture)

# Chromium's own stand-ins for a microphone and the prompt that asks for it: a recording of a generated tone.
FAKE_MICROPHONE = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture
def settings(settings):
    return {**settings, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}


def test_a_photo_and_a_recorded_voice_note_reach_the_model(served, start_workers, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    start_workers()
    photo = tmp_path / "photo.png"
    photo.write_bytes(png(padding=50_000))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS + FAKE_MICROPHONE)
        page = browser.new_page()
        problems = []  # a script error, or a Content-Security-Policy violation, shows as a console error (no favicon: 404)
        page.on("console", lambda message: problems.append(message.text)
                if message.type == "error" and not message.location["url"].endswith("/favicon.ico") else None)
        page.goto(f"{served}/chat")
        page.fill("#text", "is this broken?")
        page.set_input_files("#file", photo)
        answer = "(offline model) you said: is this broken?, a photo of 50 KB"
        expect(page.locator(".msg.bot")).to_have_text(answer, timeout=15000)
        page.click("#record")
        expect(page.locator("#record")).to_have_class(re.compile("recording"))
        page.wait_for_timeout(1500)  # a second or so of the fake microphone's tone: its length is counted from the sound
        page.click("#record")
        expect(page.locator(".msg.bot").nth(1)).to_have_text(re.compile(r"\(offline model\) you said: a voice note of \d+ s"),
                                                             timeout=15000)
        assert page.locator(".msg.error").count() == 0 and problems == []
        browser.close()
