"""Past the 24-hour window (WhatsApp, WhatsApp through Twilio, Messenger): a template, or a tag, instead of text."""

from __future__ import annotations

import itertools
import json

import pytest

from bot import keys
from bot.ops import ledger
from bot.outbound import triggers
from tests import test_messenger as messenger_samples
from tests import test_whatsapp as whatsapp_samples
from tests.fakes import Canned, FakePlatform
from tests.helpers import APP_SECRET, VERIFY_TOKEN, Bot, dead_letters, post_signed
from tests.vendors import TWILIO_TOKEN, post_twilio

TOKEN = "api-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADA_PHONE, ADA_BSUID = whatsapp_samples.ADA["phone"], whatsapp_samples.ADA["bsuid"]
WHATSAPP = f"whatsapp:{whatsapp_samples.NUMBER}:{ADA_BSUID}"
MESSENGER = f"messenger:{messenger_samples.PAGE}:{messenger_samples.ADA}"
ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_USER, TWILIO_SENDER = "whatsapp:+14155551234", "whatsapp:+14155238886"
TWILIO_WHATSAPP = f"twilio:{TWILIO_USER}:{TWILIO_SENDER}"
TWILIO_SMS = "twilio:+14155551234:+15557654321"
CONTENT_SID = "HX" + "b" * 32
ORDER_UPDATE = {"name": "order_update", "language": "en_US", "parameters": ["Ada", "#1042"]}
SHIPPED = "Your order #1042 has shipped."


@pytest.fixture
def graph():
    server = FakePlatform({"messages": Canned(body=whatsapp_samples.SENT)}).start()
    yield server
    server.stop()


@pytest.fixture
def twilio():
    server = FakePlatform({"Messages.json": Canned(status=201, body={"sid": "SM" + "f" * 32, "status": "queued"})}).start()
    yield server
    server.stop()


def bot(settings: dict[str, str], graph: FakePlatform, twilio: FakePlatform, **overrides: str) -> Bot:
    """WhatsApp and Messenger on the Graph fake, Twilio on its own, and the API on."""
    meta = {f"{prefix}_{name}": value for prefix in ("WHATSAPP", "MESSENGER")
            for name, value in (("APP_SECRET", APP_SECRET), ("VERIFY_TOKEN", VERIFY_TOKEN), ("API_URL", f"{graph.url}/v21.0"))}
    return Bot(settings, **meta, API_TOKEN=TOKEN, PLATFORM_MAX_RETRIES="1", WHATSAPP_ACCESS_TOKEN="EAAJB-wa",
               MESSENGER_PAGE_ACCESS_TOKEN="EAAJB-page", TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
               TWILIO_API_URL=twilio.url, **overrides)


@pytest.fixture
def b(settings, graph, twilio) -> Bot:
    return bot(settings, graph, twilio)


def _post_whatsapp(b: Bot) -> None:
    message = whatsapp_samples.text_message("hi")
    post_signed(b.client, "whatsapp", whatsapp_samples.notification(whatsapp_samples.change(message)))


def _post_messenger(b: Bot) -> None:
    post_signed(b.client, "messenger", messenger_samples.notification(messenger_samples.event("hi")))


def _post_twilio(sender: str, to: str):
    def post(b: Bot) -> None:
        form = {"MessageSid": f"SM{next(_sids):032x}", "From": sender, "To": to, "Body": "hi", "NumMedia": "0"}
        assert post_twilio(b.client, form).status_code == 200
    return post


_sids = itertools.count(1)
WRITE = {WHATSAPP: _post_whatsapp, MESSENGER: _post_messenger, TWILIO_WHATSAPP: _post_twilio(TWILIO_USER, TWILIO_SENDER),
         TWILIO_SMS: _post_twilio("+14155551234", "+15557654321")}


def wrote(b: Bot, redis, conversation: str, hours_ago: float = 0) -> None:
    """The user writes on the conversation's platform and the bot answers; `hours_ago` is when, as the bot remembers it."""
    WRITE[conversation](b)
    b.run()
    age(redis, conversation, hours_ago)


def age(redis, conversation: str, hours: float) -> None:
    """Move the user's last message `hours` back in time: what the reply window is counted from."""
    contact = json.loads(redis.get(keys.contact(conversation)))
    redis.set(keys.contact(conversation), json.dumps({**contact, "received_at": contact["received_at"] - hours * 3600}))


def send(b: Bot, conversation: str, **fields):
    return b.client.post("/api/messages", json={"conversation": conversation, **fields}, headers=AUTH)


def last_sent(fake: FakePlatform):
    """The last message sent, not a read receipt or typing indicator."""
    return [call for call in fake.requests if "status" not in call.body and "sender_action" not in call.body][-1]


def history(b: Bot, conversation: str) -> list[dict]:
    return b.client.get(f"/api/conversations/{conversation}", headers=AUTH).get_json()["history"]


def test_past_the_window_whatsapp_gets_the_template_and_the_history_says_so(b, redis, graph, llm):
    wrote(b, redis, WHATSAPP, hours_ago=25)
    written = len(llm.completions)
    response = send(b, WHATSAPP, prompt="examples/order-status.md", template=ORDER_UPDATE)
    assert response.status_code == 202
    b.run()
    call = last_sent(graph)
    assert call.path == f"/v21.0/{whatsapp_samples.NUMBER}/messages"
    body = [{"type": "text", "text": "Ada"}, {"type": "text", "text": "#1042"}]
    assert call.body == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": ADA_PHONE, "type": "template",
                         "template": {"name": "order_update", "language": {"code": "en_US"},
                                      "components": [{"type": "body", "parameters": body}]}}
    assert len(llm.completions) == written  # the template is the message: no prompt is written
    assert history(b, WHATSAPP)[-1] == {"role": "assistant", "content": "(template order_update: Ada, #1042)"}
    assert ledger.lookup(redis, "api", response.get_json()["id"])["outcome"] == "replied"


def test_named_parameters_go_by_name(b, redis, graph):
    wrote(b, redis, WHATSAPP, hours_ago=25)
    template = {"name": "order_update", "language": "pt_BR", "parameters": {"customer_name": "Ada", "order": "#1042"}}
    assert send(b, WHATSAPP, text=SHIPPED, template=template).status_code == 202
    b.run()
    assert last_sent(graph).body["template"] == {"name": "order_update", "language": {"code": "pt_BR"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "parameter_name": "customer_name", "text": "Ada"},
                                        {"type": "text", "parameter_name": "order", "text": "#1042"}]}]}


def test_within_the_window_the_text_goes_and_the_template_is_kept_for_later(b, redis, graph):
    wrote(b, redis, WHATSAPP, hours_ago=23)
    assert send(b, WHATSAPP, text=SHIPPED, template=ORDER_UPDATE).status_code == 202
    b.run()
    assert last_sent(graph).body["text"] == {"preview_url": False, "body": SHIPPED}


def test_twilio_whatsapp_users_get_the_content_template_past_the_window(b, redis, twilio):
    wrote(b, redis, TWILIO_WHATSAPP, hours_ago=25)
    template = {"name": CONTENT_SID, "parameters": ["Ada", "#1042"]}
    assert send(b, TWILIO_WHATSAPP, text=SHIPPED, template=template).status_code == 202
    b.run()
    assert twilio.calls("Messages.json")[-1] == {"To": TWILIO_USER, "From": TWILIO_SENDER, "ContentSid": CONTENT_SID,
                                                 "ContentVariables": '{"1": "Ada", "2": "#1042"}'}  # no Body: it would fail


def test_twilio_sms_users_have_no_window(b, redis, twilio):
    wrote(b, redis, TWILIO_SMS, hours_ago=25)
    assert send(b, TWILIO_SMS, text=SHIPPED).status_code == 202
    b.run()
    assert twilio.calls("Messages.json")[-1] == {"To": "+14155551234", "From": "+15557654321", "Body": SHIPPED}


def test_messenger_past_the_window_sends_the_text_with_its_tag(b, redis, graph):
    wrote(b, redis, MESSENGER, hours_ago=25)
    assert send(b, MESSENGER, text=SHIPPED, template={"tag": "POST_PURCHASE_UPDATE", **ORDER_UPDATE}).status_code == 202
    b.run()
    call = last_sent(graph)
    assert call.path == "/v21.0/me/messages"
    assert call.body == {"recipient": {"id": messenger_samples.ADA}, "messaging_type": "MESSAGE_TAG",
                         "tag": "POST_PURCHASE_UPDATE", "message": {"text": SHIPPED}}
    assert history(b, MESSENGER)[-1] == {"role": "assistant", "content": SHIPPED}


@pytest.mark.parametrize(("conversation", "template", "said"), [
    (WHATSAPP, None, "no template was given"),
    (WHATSAPP, {"name": "order_update"}, "needs a name and a language"),
    (WHATSAPP, {"tag": "ACCOUNT_UPDATE"}, "needs a name and a language"),  # a rule meant for Messenger users
    (TWILIO_WHATSAPP, None, "no template was given"),
    (TWILIO_WHATSAPP, ORDER_UPDATE, "Content SID"),
    (MESSENGER, None, "no template was given"),
    (MESSENGER, {"tag": "HUMAN_AGENT"}, "POST_PURCHASE_UPDATE"),  # a person's reply, not the bot's
    (MESSENGER, ORDER_UPDATE, "needs a tag"),
])
def test_past_the_window_without_a_template_the_platform_takes_it_is_409(b, redis, graph, twilio, conversation, template, said):
    wrote(b, redis, conversation, hours_ago=25)
    sent = len(graph.requests) + len(twilio.requests)
    response = send(b, conversation, text=SHIPPED, **({"template": template} if template else {}))
    assert response.status_code == 409 and "24-hour" in response.get_json()["error"] and said in response.get_json()["error"]
    b.run()
    assert len(graph.requests) + len(twilio.requests) == sent


def test_a_window_that_closes_before_the_message_goes_out_dead_letters_it_unsent(b, redis, graph):
    wrote(b, redis, WHATSAPP)
    sent = len(graph.requests)
    response = send(b, WHATSAPP, text=SHIPPED)
    assert response.status_code == 202
    age(redis, WHATSAPP, 25)  # a day passes before a worker takes it
    b.run()
    assert len(graph.requests) == sent
    assert ledger.lookup(redis, "api", response.get_json()["id"])["outcome"] == "dead_letter"
    assert "24-hour" in dead_letters(redis)[0]["reason"]


@pytest.mark.parametrize("template", [{"language": "en_US"}, {"name": 7}, {"name": "x", "parameters": [1]},
                                      {"name": "x", "parameters": "Ada"}, {"name": "x", "color": "red"}, "order_update"])
def test_a_malformed_template_is_400(b, redis, template):
    wrote(b, redis, WHATSAPP)
    response = send(b, WHATSAPP, text=SHIPPED, template=template)
    assert response.status_code == 400 and "template" in response.get_json()["error"]


def test_a_trigger_with_a_template_reaches_users_past_their_window_and_one_without_skips_them(settings, graph, twilio, redis,
                                                                                               tmp_path):
    plain = {"name": "plain", "cron": "* * * * *", "audience": "platform:whatsapp", "text": "Plain news."}
    (tmp_path / "triggers.yaml").write_text(json.dumps([plain, {**plain, "name": "renewal", "template": ORDER_UPDATE}]))
    b = bot(settings, graph, twilio, TRIGGERS_FILE=str(tmp_path / "triggers.yaml"))
    wrote(b, redis, WHATSAPP, hours_ago=25)
    sent = len(graph.requests)
    assert triggers.run_due(b.app.extensions["bot"]) == 2
    b.run()
    assert [call.body["template"]["name"] for call in graph.requests[sent:]] == ["order_update"]


def test_a_trigger_with_a_malformed_template_is_refused_when_loaded(tmp_path):
    entry = {"name": "renewal", "cron": "* * * * *", "audience": "all", "text": "Renew?", "template": {"name": 7}}
    (tmp_path / "triggers.yaml").write_text(json.dumps([entry]))
    with pytest.raises(ValueError, match="renewal: a template's name"):
        triggers.load(tmp_path / "triggers.yaml")
