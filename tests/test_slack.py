"""Slack Events API end to end, and its signature scheme."""

from __future__ import annotations

import json
import time
from unittest.mock import ANY
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.ops import ledger
from handlers.platforms import signatures
from tests.fakes import Canned, FakePlatform
from tests.helpers import Bot, dead_letters, stored
from tests.vendors import SLACK_SECRET, post_slack

OK = Canned(body={"ok": True, "channel": "D123ABC456", "ts": "1767225601.000100"})
NOW = int(time.time())  # when the events were sent: the bot drops those older than the platform's dedupe horizon


@pytest.fixture
def slack():
    server = FakePlatform({"chat.postMessage": OK}).start()
    yield server
    server.stop()


@pytest.fixture
def bot(settings, slack):
    """Replies sent part by part, as with STREAMING=0: test_streaming has the message shown while it is written."""
    return Bot({**settings, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SLACK_SECRET,
                "SLACK_API_URL": slack.url, "PLATFORM_MAX_RETRIES": "1", "STREAMING": "0"})


def event(text: str = "hello bot", *, kind: str = "message", ts: str = "1767225600.000200", event_id: str = "Ev1",
          **fields: object) -> dict:
    """An event_callback as in docs/platforms.md 2.3."""
    body = {"type": kind, "channel": "D123ABC456", "user": "U123ABC456", "text": text, "ts": ts, "event_ts": ts}
    if kind == "message":
        body["channel_type"] = "im"
    body.update(fields)
    return {"type": "event_callback", "team_id": "T123ABC456", "event": body, "event_id": event_id,
            "event_time": NOW, "authorizations": [{"team_id": "T123ABC456", "user_id": "U0BOTUSER", "is_bot": True}]}


def texts(slack) -> list[str]:
    return [body["text"] for body in slack.calls("chat.postMessage")]


def test_the_official_signature_vector():
    body = ("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar"
            "&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com"
            "%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    signed = signatures.digest(SLACK_SECRET.encode(), f"v0:1531420618:{body}".encode()).hex()
    assert "v0=" + signed == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    signatures.require_fresh("X-Slack-Request-Timestamp", "1531420618", now=1531420618 + 300)
    with pytest.raises(Exception, match="stale"):
        signatures.require_fresh("X-Slack-Request-Timestamp", "1531420618", now=1531420618 + 301)


def test_a_direct_message_gets_one_reply_in_mrkdwn(client, run_worker, slack, llm):
    from tests.fakes import completion

    llm.then(Canned(body=completion("Use **bold** & <tags>")))
    assert post_slack(client, event("hello &amp; welcome")).status_code == 200
    run_worker()
    (sent,) = slack.calls("chat.postMessage")
    assert sent == {"channel": "D123ABC456", "text": "Use *bold* &amp; &lt;tags&gt;",
                    "metadata": {"event_type": "bot_reply_part", "event_payload": {"key": ANY}}}  # found again after a timeout
    assert slack.requests[0].headers["Authorization"] == "Bearer xoxb-test"
    assert llm.completions[0]["messages"][-1]["content"] == "hello & welcome"  # Slack's escapes undone for the LLM


def test_url_verification_echoes_the_challenge(client, redis):
    challenge = {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
    response = post_slack(client, challenge)
    assert response.status_code == 200
    assert response.data == b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    assert stored(redis) == []


def test_an_unsigned_get_carrying_a_url_verification_is_not_answered(client):
    """Only the signed POST is Slack's handshake: a GET is not verified, so it may not echo anything."""
    body = json.dumps({"type": "url_verification", "challenge": "<script>alert(1)</script>"})
    response = client.get("/webhooks/slack", data=body, content_type="application/json")
    assert response.status_code == 405 and b"script" not in response.data


def test_bad_signatures_and_stale_timestamps_are_refused_and_nothing_is_stored(client, redis):
    assert post_slack(client, event(), secret="wrong-secret").status_code == 403
    assert post_slack(client, event(), timestamp=int(time.time()) - 301).status_code == 403
    raw = json.dumps(event()).encode()
    missing = client.post("/webhooks/slack", data=raw, content_type="application/json",
                          headers={"X-Slack-Request-Timestamp": str(int(time.time()))})
    assert missing.status_code == 401
    assert stored(redis) == []


def test_a_mention_and_its_im_event_are_answered_once(client, run_worker, slack):
    post_slack(client, event("<@U0BOTUSER> hi there", event_id="Ev1"))
    post_slack(client, event("<@U0BOTUSER> hi there", kind="app_mention", event_id="Ev2"))
    run_worker()
    assert texts(slack) == ["LLM: hi there"]


def test_a_retry_is_deduped_but_a_retry_of_an_unseen_event_is_processed(client, run_worker, slack):
    post_slack(client, event("first", ts="1.1"))
    post_slack(client, event("first", ts="1.1"), headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    post_slack(client, event("never seen", ts="1.2", event_id="Ev9"),
               headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    run_worker()
    assert texts(slack) == ["LLM: first + never seen"]


def test_bots_edits_and_channel_chatter_are_ignored(client, run_worker, redis, slack):
    ignored = [
        event("own post", user="U0BOTUSER"),
        event("another bot", bot_id="B1"),
        event("edited", subtype="message_changed"),
        event("in a channel", channel="C1", channel_type="channel"),
        {"type": "event_callback", "team_id": "T1", "event": {"type": "reaction_added", "user": "U1"}, "event_id": "Ev7"},
    ]
    for payload in ignored:
        assert post_slack(client, payload).status_code == 200
    run_worker()
    assert slack.requests == [] and stored(redis) == []


def test_a_reply_goes_to_the_thread_the_user_wrote_in(client, run_worker, slack):
    post_slack(client, event("<@U0BOTUSER> in thread", kind="app_mention", channel="C9", thread_ts="1767225500.000100"))
    run_worker()
    assert slack.calls("chat.postMessage")[0]["thread_ts"] == "1767225500.000100"


def test_rate_limit_is_waited_out(client, run_worker, slack):
    slack.then(Canned(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"}))
    post_slack(client, event("hi"))
    run_worker()
    assert texts(slack) == ["LLM: hi", "LLM: hi"]  # the refused try, then the one that went through


def test_persistent_server_errors_end_in_a_dead_letter(client, run_worker, slack, redis):
    slack.then(Canned(status=500, body={}), Canned(status=503, body={}))
    post_slack(client, event("hi"))
    run_worker()
    assert len(slack.calls("chat.postMessage")) == 2  # the first try and PLATFORM_MAX_RETRIES=1
    (dead,) = dead_letters(redis)
    assert dead["reason"] == "delivery: Slack answered 503"


def test_a_revoked_token_is_a_dead_letter_that_says_what_to_check(client, run_worker, slack, redis):
    slack.then(Canned(body={"ok": False, "error": "invalid_auth"}))
    post_slack(client, event("hi"))
    run_worker()
    assert len(slack.calls("chat.postMessage")) == 1
    assert "check SLACK_BOT_TOKEN" in dead_letters(redis)[0]["reason"]


def history(slack, landed: bool):
    """conversations.history as Slack answers it: the channel's posts, with their metadata, or none of ours."""
    def answer(call) -> Canned:
        posts = [call.body for call in slack.delivered if call.method == "chat.postMessage"] if landed else []
        return Canned(body={"ok": True, "messages": [{"type": "message", "text": p["text"], "metadata": p.get("metadata")}
                                                     for p in posts]})
    return answer


@pytest.mark.parametrize("landed, posts", [(True, 1), (False, 2)])
def test_a_part_slack_answers_late_for_is_looked_for_in_the_channel_and_resent_only_if_missing(settings, slack, redis, landed,
                                                                                                posts):
    b = Bot({**settings, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_URL": slack.url,
                      "PLATFORM_TIMEOUT": "0.5", "STREAMING": "0"})
    slack.defaults["conversations.history"] = history(slack, landed)
    slack.then(Canned(body=OK.body, delay=1.5))
    post_slack(b.client, event("late", event_id="Ev9"))
    b.run()
    sent = slack.calls("chat.postMessage")
    assert len(sent) == posts and len({json.dumps(body["metadata"]) for body in sent}) == 1  # a resend carries the same key
    [lookup] = [parse_qs(urlsplit(call.path).query) for call in slack.requests if call.method == "conversations.history"]
    assert lookup["include_all_metadata"] == ["true"] and lookup["channel"] == ["D123ABC456"]
    assert ledger.lookup(redis, "slack", "T123ABC456:D123ABC456:1767225600.000200")["outcome"] == "replied"


def _shared(url: str) -> dict:
    """A file_share message with one file (the files.info example's fields), downloadable at `url`."""
    file = {"id": "F0123ABC", "name": "note.csv", "mimetype": "text/csv", "filetype": "csv", "size": 18,
            "url_private": url, "url_private_download": url}
    return event("", subtype="file_share", files=[file], upload=False)


def test_a_shared_file_is_fetched_with_the_bot_token_and_read(client, run_worker, slack, llm):
    slack.defaults["note.csv"] = Canned(raw=b"order,status\n42,lost", content_type="text/csv")
    post_slack(client, _shared(f"{slack.url}/files-pri/T123ABC456-F0123ABC/download/note.csv"))
    run_worker()
    [download] = [call for call in slack.requests if call.method == "note.csv"]
    assert download.headers["Authorization"] == "Bearer xoxb-test"
    assert texts(slack) == ["LLM: [document note.csv]\norder,status\n42,lost"]


@pytest.mark.parametrize("url", ["{elsewhere}/files-pri/x/note.csv",
                                 "{elsewhere}\\@files.slack.com/files-pri/x/note.csv"])  # a host only urlsplit reads
def test_a_file_url_off_slack_never_gets_the_bot_token(client, run_worker, redis, slack, llm, url):
    post_slack(client, _shared(url.format(elsewhere=slack.url.replace("127.0.0.1", "localhost"))))
    run_worker()
    assert [call for call in slack.requests if call.method == "note.csv"] == []
    assert texts(slack) == ["Sorry, I can't answer right now. Please try again in a few minutes."]
    assert "not a Slack host" in dead_letters(redis)[0]["reason"]
