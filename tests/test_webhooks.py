"""The webhook endpoint's answers to bad input: clear statuses, nothing lost, nothing stored."""

from __future__ import annotations

from bot.worker.local import free_port
from tests.helpers import Bot, post_update, stored, update


def test_redis_down_is_503_so_the_platform_retries(settings):
    down = Bot({**settings, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    response = post_update(down.client, update("hello"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "retry later" in response.get_json()["error"]


def test_a_body_over_the_limit_is_413(settings, redis):
    small = Bot({**settings, "MAX_BODY_BYTES": "2048"})
    response = post_update(small.client, update("x" * 4000))
    assert response.status_code == 413
    assert stored(redis) == []


def test_an_unknown_platform_is_404(client):
    response = client.post("/webhooks/myspace", json={})
    assert response.status_code == 404
    assert response.get_json() == {"error": "unknown platform myspace"}


def test_a_disabled_platform_is_404_naming_what_to_set(settings):
    settings = {k: v for k, v in settings.items() if not k.startswith("TELEGRAM_")}
    response = post_update(Bot(settings).client, update("hi"))
    assert response.status_code == 404
    assert response.get_json()["error"] == "platform telegram is not enabled: set TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET"


def test_a_get_is_405_as_json(client):
    response = client.get("/webhooks/telegram")
    assert response.status_code == 405
    assert "error" in response.get_json()


def test_messages_of_one_conversation_share_one_pending_turn(client, redis):
    for text in ("one", "two", "three"):
        post_update(client, update(text))
    assert redis.llen("rq:queue:turns") == 1  # a message for a conversation with a turn pending costs no enqueue
    inbox = [item for item in redis.lrange("bot:inbox:telegram:123456789", 0, -1)]
    assert [b'"text":"one"' in inbox[0], b'"text":"three"' in inbox[2]] == [True, True]
    post_update(client, update("elsewhere", chat_id=555))
    assert redis.llen("rq:queue:turns") == 2


def test_a_signed_payload_of_unexpected_shape_is_counted_and_kept_without_secrets(app, client, redis):
    from bot.ops import rejects

    response = post_update(client, {"update_id": "not-a-number", "message": {"text": "hi"}, "bot_token": "123:SECRET"})
    assert response.status_code == 400
    assert rejects.counts(redis) == {"telegram": 1}
    [kept] = rejects.newest(redis)
    assert "update_id" in kept["reason"] and "123:SECRET" not in kept["body"] and "[removed]" in kept["body"]
    output = app.test_cli_runner().invoke(args=["rejects"]).output
    assert "refused: telegram 1" in output


def test_an_unsigned_payload_is_never_kept(client, redis):
    assert post_update(client, {"garbage": True}, secret="wrong").status_code == 403
    assert redis.keys("*") == []


def test_the_dedupe_window_can_be_set_per_platform(settings, redis):
    client = Bot({**settings, "TELEGRAM_DEDUPE_TTL": "120"}).client
    post_update(client, update("hi", update_id=4242))
    assert 0 < redis.ttl("bot:seen:telegram:4242") <= 120


def test_refused_chat_page_posts_never_push_out_a_platform_s_kept_payloads(settings, redis):
    from bot.ops import rejects

    client = Bot({**settings, "WEBCHAT_RATE_LIMIT": "1000"}).client
    assert post_update(client, {"update_id": "not-a-number"}).status_code == 400
    for n in range(rejects.CAPACITY + 20):  # anyone may post these: no signature keeps them out
        refused = client.post("/webhooks/webchat", json={"session": "x", "message_id": f"m-{n:010}", "text": "hi"})
        assert refused.status_code == 400
    kept = rejects.newest(redis, limit=1000)
    assert [record["platform"] for record in kept].count("telegram") == 1
    assert [record["platform"] for record in kept].count("webchat") == rejects.CAPACITY
    assert rejects.counts(redis) == {"telegram": 1, "webchat": rejects.CAPACITY + 20}
