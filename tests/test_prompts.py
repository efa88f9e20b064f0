"""Prompts are files, read at every turn: an edit applies to the next message without a restart."""

from __future__ import annotations

import pytest

from app import create_app
from bot.worker import work
from tests.helpers import post_update, update


@pytest.fixture
def prompts(tmp_path):
    (tmp_path / "system.md").write_text("You are Version One.")
    return tmp_path


def test_an_edited_prompt_applies_to_the_next_message(settings, prompts, llm):
    bot = create_app({**settings, "PROMPTS_DIR": str(prompts)})
    post_update(bot.test_client(), update("first"))
    work(bot.extensions["bot"], burst=True)
    (prompts / "system.md").write_text("You are Version Two.")
    post_update(bot.test_client(), update("second"))
    work(bot.extensions["bot"], burst=True)
    assert [c["messages"][0]["content"] for c in llm.completions] == ["You are Version One.", "You are Version Two."]


def test_a_platform_prompt_overrides_the_default(settings, prompts, llm):
    (prompts / "telegram.md").write_text("You are on Telegram.")
    bot = create_app({**settings, "PROMPTS_DIR": str(prompts)})
    post_update(bot.test_client(), update("hi"))
    work(bot.extensions["bot"], burst=True)
    assert llm.completions[0]["messages"][0] == {"role": "system", "content": "You are on Telegram."}


def test_release_check_reports_a_missing_prompt(settings, tmp_path):
    bot = create_app({**settings, "PROMPTS_DIR": str(tmp_path)})
    result = bot.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1
    assert f"No system prompt: add {tmp_path}/system.md" in result.output


def test_release_check_passes_on_a_good_deployment(app):
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert "platforms: telegram, webchat; model test-model" in result.output
