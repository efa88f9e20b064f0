"""flask telegram poll: updates without a webhook, through the same intake; and `make run` around it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.worker.local import free_port
from tests.fakes import Canned, telegram_error
from tests.helpers import ROOT, texts, update
from tests.processes import stop_group

WEBHOOK_CONFLICT = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"


def test_polling_feeds_the_same_intake_deduped_and_in_order(app, telegram, run_worker, redis):
    telegram.then(Canned(body={"ok": True, "result": [update("polled one", update_id=900), update("polled one", update_id=900),
                                                      update("polled two", update_id=901)]}))
    result = app.test_cli_runner().invoke(args=["telegram", "poll", "--once"])
    assert result.exit_code == 0, result.output
    assert telegram.calls("getUpdates") == [{"offset": 0, "timeout": 0, "allowed_updates": ["message"]}]
    run_worker()
    assert texts(telegram) == ["LLM: polled one + polled two"]  # deduped, in order


@pytest.mark.parametrize("refusal, says", [
    (telegram_error(409, WEBHOOK_CONFLICT), "run `flask --app app webhook delete telegram`"),
    (telegram_error(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"),
     "another process is polling with this bot token: stop it"),
    (telegram_error(401, "Unauthorized"), "check TELEGRAM_BOT_TOKEN"),
    (telegram_error(404, "Not Found"), "check TELEGRAM_BOT_TOKEN"),
])
def test_polling_stops_on_a_refusal_in_one_line_saying_what_to_do(app, telegram, refusal, says):
    telegram.then(refusal)
    result = app.test_cli_runner().invoke(args=["telegram", "poll"])
    assert result.exit_code == 1 and says in result.output and result.output.count("\n") == 2, result.output
    assert len(telegram.calls("getUpdates")) == 1


def _start(env: dict[str, str], tmp_path: Path, *command: str) -> tuple[subprocess.Popen, Path]:
    """A process started as a developer would, in its own process group, its output (stdout and stderr) in a file."""
    log = tmp_path / "output.log"
    process = subprocess.Popen([sys.executable, *command], cwd=ROOT, env={**os.environ, **env},
                               stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    return process, log


def test_polling_outlasts_a_silent_long_poll_and_waits_out_transient_failures(settings, telegram, run_worker, tmp_path):
    # nobody wrote: Telegram holds the first call, longer than PLATFORM_TIMEOUT
    telegram.then(Canned(body={"ok": True, "result": []}, delay=2),
                  Canned(status=502, body="Bad Gateway"),  # a proxy in front of a self-hosted Bot API server
                  telegram_error(500, "Internal Server Error"),
                  telegram_error(429, "Too Many Requests: retry after 1", retry_after=1),
                  Canned(body={"ok": True, "result": [update("hello from polling", update_id=700)]}),
                  Canned(body={"ok": True, "result": []}, delay=60))  # held until the test stops the poller
    poller, log = _start({**settings, "PLATFORM_TIMEOUT": "1"}, tmp_path, "-m", "flask", "--app", "app", "telegram", "poll")
    try:
        telegram.wait_for(lambda: len(telegram.calls("getUpdates")) == 6 or poller.poll() is not None)
        assert poller.poll() is None, log.read_text()
    finally:
        poller.terminate()
        poller.wait(30)
    assert [call["offset"] for call in telegram.calls("getUpdates")] == [0, 0, 0, 0, 0, 701]
    assert telegram.calls("getUpdates")[0]["timeout"] == 25
    assert log.read_text().count("getUpdates failed, retrying in") == 3
    run_worker()
    assert texts(telegram) == ["LLM: hello from polling"]


def test_make_run_stops_everything_and_exits_non_zero_naming_the_child_that_died(settings, telegram, tmp_path):
    telegram.fault = lambda call: telegram_error(401, "Unauthorized") if call.method == "getUpdates" else None
    env = {**settings, "TELEGRAM_POLLING": "1", "PORT": str(free_port()), "WEB_CONCURRENCY": "1"}
    run, log = _start(env, tmp_path, "-m", "bot.worker.local")
    try:
        run.wait(120)
    finally:
        stop_group(run, signal.SIGKILL)  # whatever it left running
    output = log.read_text()
    assert run.returncode == 1, output
    assert "make run: poll (flask --app app telegram poll) exited with status 1" in output
    assert "check TELEGRAM_BOT_TOKEN" in output


def test_make_run_exits_non_zero_when_the_release_check_fails(settings, tmp_path):
    run, log = _start({**settings, "PROMPTS_DIR": str(tmp_path / "missing")}, tmp_path, "-m", "bot.worker.local")
    try:
        run.wait(120)
    finally:
        stop_group(run, signal.SIGKILL)
    assert run.returncode == 1 and "make run: release (flask --app app prompts check" in log.read_text(), log.read_text()


def test_dead_letters_list_prints_one_line_per_letter(app, redis):
    from bot.ops import deadletters

    traceback = "Traceback (most recent call last):\n  File \"bot/turns.py\", line 39, in run\n" + "    frame\n" * 40
    deadletters.add(redis, {"conversation": "telegram:1", "reason": "Telegram sendMessage failed (400):\n\tBad Request",
                            "messages": []})
    deadletters.add(redis, {"conversation": "telegram:2", "reason": traceback + "ValueError: boom", "messages": []})
    lines = app.test_cli_runner().invoke(args=["dead-letters", "list"]).output.splitlines()
    assert [line.split("  ", 3)[2:] for line in lines] == [
        ["telegram:2", 'Traceback (most recent call last): File "bot/turns.py", line 39, in run frame frame frame frame fra…'],
        ["telegram:1", "Telegram sendMessage failed (400): Bad Request"]]
