"""flask telegram poll: updates without a webhook, through the same intake."""

from __future__ import annotations


def test_polling_feeds_the_same_intake_deduped_and_in_order(app, telegram, run_worker, redis):
    from tests.fakes import Canned
    from tests.helpers import update

    telegram.then(Canned(body={"ok": True, "result": {"url": "", "pending_update_count": 2}}),
                  Canned(body={"ok": True, "result": [update("polled one", update_id=900), update("polled one", update_id=900),
                                                      update("polled two", update_id=901)]}))
    result = app.test_cli_runner().invoke(args=["telegram", "poll", "--once"])
    assert result.exit_code == 0, result.output
    assert telegram.calls("getUpdates") == [{"offset": 0, "timeout": 0, "allowed_updates": ["message"]}]
    run_worker()
    assert [m["text"] for m in telegram.sent] == ["LLM: polled one + polled two"]  # deduped, in order


def test_polling_refuses_while_a_webhook_is_set(app, telegram):
    from tests.fakes import Canned

    telegram.then(Canned(body={"ok": True, "result": {"url": "https://bot.example.com/webhooks/telegram"}}))
    result = app.test_cli_runner().invoke(args=["telegram", "poll", "--once"])
    assert result.exit_code == 1 and "run `flask --app app webhook delete telegram` first" in result.output
    assert telegram.calls("getUpdates") == []
