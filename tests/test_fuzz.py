"""Fuzzing every webhook endpoint: random bytes, random JSON, and each platform's genuine event mutated, signed
validly with the platform's own scheme and not. Every answer is one a platform can act on, never a 500, and no turn
the accepted ones start ever crashes.

Deterministic (hypothesis derandomized, no example database), and bounded to a few hundred requests a platform.
"""

from __future__ import annotations

import copy
import json
from functools import reduce
from operator import getitem
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq.registry import FailedJobRegistry

from bot.worker.process import work
from handlers.platforms.registry import ADAPTERS
from tests.fakes import Canned, FakeServer
from tests.helpers import APP_SECRET, VERIFY_TOKEN, Bot, dead_letters
from tests.vendors import LINE_SECRET, SLACK_SECRET, STANDARD_SECRET, TWILIO_TOKEN, TWILIO_URL, signed_headers

FORM = "application/x-www-form-urlencoded"
ANSWERS = {200, 400, 401, 403, 404, 405, 413, 429, 503}
CRASHED = "the turn failed"  # how a dead letter begins when its turn raised on every try
EXAMPLES = 250  # requests per platform: with the turns they start, about two seconds


class Accepting(FakeServer):
    """Every platform's API, and the generic webhook's receiver: every call succeeds."""

    def respond(self, call: Any) -> Canned:
        return Canned(body={"ok": True, "result": {"message_id": 1}})


@pytest.fixture
def api() -> Iterator[Accepting]:
    server = Accepting().start()
    yield server
    server.stop()


@pytest.fixture
def bot(settings: dict[str, str], api: Accepting) -> Bot:
    return Bot({**settings, "WEBCHAT_RATE_LIMIT": "100000", "USER_RATE_LIMIT": "0", "PLATFORM_MAX_RETRIES": "1",
        "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_URL": api.url,
        "WHATSAPP_ACCESS_TOKEN": "wa-token", "WHATSAPP_APP_SECRET": APP_SECRET, "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_API_URL": api.url, "MESSENGER_PAGE_ACCESS_TOKEN": "fb-token", "MESSENGER_APP_SECRET": APP_SECRET,
        "MESSENGER_VERIFY_TOKEN": VERIFY_TOKEN, "MESSENGER_API_URL": api.url,
        "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_API_URL": api.url,
        "LINE_CHANNEL_SECRET": LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": "line-token", "LINE_API_URL": api.url,
        "GENERIC_WEBHOOK_SECRET": STANDARD_SECRET, "GENERIC_CALLBACK_URL": f"{api.url}/replies",
        "GENERIC_CALLBACK_ALLOWLIST": "127.0.0.1"})


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, each as often as its weight says (hypothesis's one_of favours none)."""
    return st.sampled_from([strategy for weight, strategy in choices for _ in range(weight)]).flatmap(lambda strategy: strategy)


# Text with what breaks text: any code point, now and then a lone surrogate (which JSON writes as "\ud800").
lone = st.builds(lambda before, surrogate, after: before + surrogate + after, st.text(max_size=5),
                 st.characters(categories=["Cs"]), st.text(max_size=5))
texts = weighted((3, st.text(max_size=30)), (1, lone))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
LIKE = {str: weighted((2, st.text(min_size=1, max_size=30)), (1, lone)), int: st.integers(), bool: st.booleans(),
        float: st.floats()}  # another value of a leaf's kind


def paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path to a value inside `value`."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


# Where each platform's event carries the id it is deduped on (the generic webhook's is a header, new at each signing),
# and the user's words.
WHATSAPP, MESSENGER = ("entry", 0, "changes", 0, "value", "messages", 0), ("entry", 0, "messaging", 0, "message")
FIELDS = {"telegram": (("update_id",), ("message", "text")), "slack": (("event", "ts"), ("event", "text")),
          "whatsapp": ((*WHATSAPP, "id"), (*WHATSAPP, "text", "body")), "messenger": ((*MESSENGER, "mid"), (*MESSENGER, "text")),
          "twilio": (("MessageSid",), ("Body",)), "line": (("events", 0, "webhookEventId"), ("events", 0, "message", "text")),
          "webhook": (None, ("text",)), "webchat": (("message_id",), ("text",))}


def put(document: Any, path: tuple, value: Any) -> None:
    *parent, key = path
    reduce(getitem, parent, document)[key] = value


@st.composite
def mutated(draw: st.DrawFn, document: Any, platform: str) -> Any:
    """The event with a new id and new words, and up to three of its values changed: mostly to another of their kind
    (which often passes the schema and reaches a turn), else to random JSON, or removed."""
    document = copy.deepcopy(document)
    id_path, text_path = FIELDS.get(platform, (None, None))
    if id_path:
        put(document, id_path, type(reduce(getitem, id_path, document))(draw(st.uuids()).int % 10**15))
    if text_path:
        put(document, text_path, draw(LIKE[str]))
    for _ in range(draw(st.integers(0, 3))):
        if not (choices := list(paths(document))):
            break
        path = draw(st.sampled_from(choices))
        parent, key = reduce(getitem, path[:-1], document), path[-1]
        roughly = draw(st.sampled_from([False, False, True])) or type(parent[key]) not in LIKE
        if roughly and isinstance(parent, dict) and draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(json_values if roughly else LIKE[type(parent[key])])
    return document


def encoded(form: dict[str, Any]) -> str:
    """A form or query string as a client writes it: a lone surrogate goes out as the (invalid) UTF-8 bytes it stands for."""
    return urlencode(form, errors="surrogatepass")


def bodies(platform: str, genuine: bytes) -> st.SearchStrategy[tuple[bytes, str]]:
    """Bodies, with their content types: the platform's own event mutated (most of them), JSON, bytes, deep nesting."""
    if platform == "twilio":
        own = mutated(dict(parse_qsl(genuine.decode())), platform).map(lambda form: (encoded(form).encode(), FORM))
    else:
        own = mutated(json.loads(genuine), platform).map(lambda value: (json.dumps(value).encode(), "application/json"))
    kinds = st.sampled_from(["application/json", FORM, "text/plain"])
    anything = st.tuples(json_values.map(lambda value: json.dumps(value).encode()) | st.binary(max_size=200), kinds)
    deep = st.integers(60, 5000).map(lambda depth: (b"[" * depth + b"]" * depth, "application/json"))
    return weighted((6, own), (1, anything), (1, deep))


def requests(platform: str, genuine: bytes) -> st.SearchStrategy[dict[str, Any]]:
    """A POST (signed or not) or a GET with random query parameters (Meta's handshake), to the platform's endpoint."""
    posts = st.builds(lambda body, unsigned: {"method": "POST", "data": body[0], "headers": (
                          {"Content-Type": body[1]} if unsigned else signed_headers(platform, *body))},
                      bodies(platform, genuine), st.sampled_from([False, False, False, True]))
    names = st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "session", "after"]) | texts
    query = st.dictionaries(names, texts, max_size=3).map(lambda params: {**params, "hub.verify_token": VERIFY_TOKEN}
                                                          if "hub.mode" in params else params)  # Meta's, sometimes
    gets = st.builds(lambda params: {"method": "GET", "query_string": encoded(params)}, query)
    return weighted((7, posts), (1, gets))


@pytest.mark.parametrize("platform", sorted(ADAPTERS))
def test_every_answer_is_one_a_platform_can_act_on_and_no_turn_crashes(app, redis, platform):
    _, genuine = app.extensions["bot"].channels[platform].sample(TWILIO_URL, "hello")
    client = app.test_client()

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(request=requests(platform, genuine))
    def answers(request: dict[str, Any]) -> None:
        response = client.open(f"/webhooks/{platform}", **request)
        assert response.status_code in ANSWERS, (request, response.data)
        if platform == "webchat" and request["method"] == "GET":
            events = client.get("/webchat/events", query_string=request["query_string"])
            assert events.status_code in ANSWERS, (request, events.data)

    answers()
    assert redis.keys("bot:seen:*"), "some of the events were taken, for turns to answer"
    rt = app.extensions["bot"]
    work(rt, burst=True)
    assert FailedJobRegistry(queue=rt.turns.queue).get_job_ids() == []
    assert FailedJobRegistry(queue=rt.turns.events).get_job_ids() == []
    assert [letter for letter in dead_letters(redis) if letter["reason"].startswith(CRASHED)] == []
