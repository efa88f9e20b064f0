"""Real payload kinds replayed on every platform: each is answered 200 and ends in a reply, the non-text
notice, or nothing at all (nothing stored, no ledger entry).

The shapes are the platforms' published samples (docs/platforms.md, the Events API, Graph and Twilio references);
LINE's are written by line-bot-sdk's own models.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from linebot.v3 import WebhookParser
from linebot.v3 import webhooks as line_sdk

from bot.media import parts
from bot.ops import ledger
from tests.fakes import Canned, FakePlatform, graph_media, line_content
from tests.helpers import APP_SECRET, VERIFY_TOKEN, Bot, post_signed, stored
from tests.samples_media import ogg, pdf, png
from tests.vendors import (
    LINE_SECRET,
    SLACK_SECRET,
    STANDARD_SECRET,
    TWILIO_TOKEN,
    line_signature,
    post_line,
    post_slack,
    post_twilio,
    standard_headers,
    standard_verified,
)

NOTICE = "Sorry, I can only read text messages."
OUTCOMES = {"reply": "replied", "notice": "notice"}  # what the ledger records for each


@dataclass(frozen=True)
class Case:
    platform: str
    kind: str
    payload: Any
    outcome: str  # "reply" (to `text`), "notice" or "nothing"
    text: str = ""


@pytest.fixture
def api():
    """Every platform's API in one fake, each under its own path prefix; generic replies go to /webhook/."""
    server = FakePlatform({"chat.postMessage": Canned(body={"ok": True, "ts": "1767225601.000100"})})
    server.defaults.update(graph_media(server, FILES, "/whatsapp") | line_content(FILES))
    server.defaults.update({name: Canned(raw=data, content_type="application/octet-stream") for name, data in LINKED.items()})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bot(settings: dict[str, str], api: FakePlatform):
    return Bot({
        **settings, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_URL": f"{api.url}/slack",
        "WHATSAPP_ACCESS_TOKEN": "EAAJB-wa", "WHATSAPP_APP_SECRET": APP_SECRET, "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_API_URL": f"{api.url}/whatsapp", "MESSENGER_PAGE_ACCESS_TOKEN": "EAAJB-page",
        "MESSENGER_MEDIA_HOSTS": api.url.removeprefix("http://"),
        "MESSENGER_APP_SECRET": APP_SECRET, "MESSENGER_VERIFY_TOKEN": VERIFY_TOKEN, "MESSENGER_API_URL": f"{api.url}/messenger",
        "TWILIO_ACCOUNT_SID": "AC0123", "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_API_URL": f"{api.url}/twilio",
        "LINE_CHANNEL_SECRET": LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": "line-token", "LINE_API_URL": f"{api.url}/line",
        "GENERIC_WEBHOOK_SECRET": STANDARD_SECRET, "GENERIC_CALLBACK_URL": f"{api.url}/webhook/reply",
        "STREAMING": "0",  # each reply as one send: Slack's streamed message (posted, then updated) is test_streaming's
    })


def _post_generic(client, payload: dict[str, Any]):
    raw = json.dumps(payload).encode()
    return client.post("/webhooks/webhook", data=raw, content_type="application/json", headers=standard_headers(raw))


POST: dict[str, Callable[[Any, Any], Any]] = {
    "slack": post_slack,
    "whatsapp": lambda client, payload: post_signed(client, "whatsapp", payload),
    "messenger": lambda client, payload: post_signed(client, "messenger", payload),
    "twilio": post_twilio,
    "line": post_line,
    "webhook": _post_generic,
}
SENT: dict[str, Callable[[dict[str, Any]], list[str]]] = {  # the texts in one call; typing and read receipts carry none
    "slack": lambda body: [body["text"]],
    "whatsapp": lambda body: [body["text"]["body"]] if body.get("type") == "text" else [],
    "messenger": lambda body: [body["message"]["text"]] if "message" in body else [],
    "twilio": lambda body: [body["Body"]],
    "line": lambda body: [message["text"] for message in body.get("messages", [])],
    "webhook": lambda body: [body["data"]["text"]],
}


def sent(api: FakePlatform) -> list[str]:
    """Every text the bot sent (media downloads are GETs), on any platform; generic callbacks must pass the reference
    library's check."""
    standard_verified(call for call in api.requests if call.path.startswith("/webhook/"))
    return [text for call in api.requests if call.verb != "GET" for text in SENT[call.path.split("/")[1]](call.body)]


# Slack: Events API envelopes (docs/platforms.md 2.3) around each event.

SLACK_USER, SLACK_BOT, TS = "U123ABC456", "U0BOTUSER", "1767225600.000200"
NOW = int(time.time())  # when the events were sent: the bot drops those older than the platform's dedupe horizon
DM = {"channel": "D123ABC456", "channel_type": "im", "user": SLACK_USER, "ts": TS, "event_ts": TS}
WITHOUT_USER = {key: value for key, value in DM.items() if key != "user"}  # how other bots' posts come
CHANNEL = {"channel": "C123ABC456", "channel_type": "channel", "user": SLACK_USER, "ts": TS, "event_ts": TS}
FILE = {"id": "F0123ABC", "name": "screenshot.png", "mimetype": "image/png", "filetype": "png", "size": 52344,
        "url_private": "https://files.slack.com/files-pri/T123ABC456-F0123ABC/screenshot.png"}


def slack(**event: Any) -> dict[str, Any]:
    return {"type": "event_callback", "token": "XXYYZZ", "team_id": "T123ABC456", "api_app_id": "A123ABC456", "event": event,
            "event_id": "Ev123ABC456", "event_time": NOW,
            "authorizations": [{"team_id": "T123ABC456", "user_id": SLACK_BOT, "is_bot": True}]}


SLACK = [
    Case("slack", "direct message", slack(type="message", text="hello bot", client_msg_id="5d2c", **DM), "reply", "hello bot"),
    Case("slack", "mention in a channel", slack(type="app_mention", text=f"<@{SLACK_BOT}> hi there", **CHANNEL), "reply",
         "hi there"),
    Case("slack", "reply in a thread", slack(type="message", text="and then?", thread_ts="1767225500.000100", **DM), "reply",
         "and then?"),
    Case("slack", "file shared with a question", slack(type="message", subtype="file_share", text="what is in this?",
                                                       files=[FILE], upload=False, **DM), "reply", "what is in this?"),
    Case("slack", "file shared alone", slack(type="message", subtype="file_share", text="", files=[FILE], upload=False, **DM),
         "notice"),
    Case("slack", "file shared with a mention", slack(type="app_mention", text=f"<@{SLACK_BOT}> summarise this", files=[FILE],
                                                      **CHANNEL), "reply", "summarise this"),
    Case("slack", "another bot's file", slack(type="message", subtype="file_share", bot_id="B123", text="report", files=[FILE],
                                              **WITHOUT_USER), "nothing"),
    Case("slack", "edit", slack(type="message", subtype="message_changed", hidden=True, **DM,
                                message={"type": "message", "user": SLACK_USER, "text": "hello bot!", "ts": TS},
                                previous_message={"type": "message", "user": SLACK_USER, "text": "hello bot", "ts": TS}),
         "nothing"),
    Case("slack", "deletion", slack(type="message", subtype="message_deleted", hidden=True, deleted_ts=TS, **DM), "nothing"),
    Case("slack", "reaction", slack(type="reaction_added", user=SLACK_USER, reaction="thumbsup", item_user=SLACK_BOT,
                                    item={"type": "message", "channel": "D123ABC456", "ts": TS}, event_ts=TS), "nothing"),
    Case("slack", "member joins a channel", slack(type="member_joined_channel", user=SLACK_USER, channel="C123ABC456",
                                                  channel_type="C", team="T123ABC456"), "nothing"),
    Case("slack", "join message", slack(type="message", subtype="channel_join", text=f"<@{SLACK_USER}> has joined the channel",
                                        **CHANNEL), "nothing"),
    Case("slack", "channel post without a mention", slack(type="message", text="lunch?", **CHANNEL), "nothing"),
    Case("slack", "another bot's post", slack(type="message", subtype="bot_message", bot_id="B123", text="deploy done",
                                              **WITHOUT_USER), "nothing"),
    Case("slack", "the bot's own reply", slack(type="message", text="LLM: hello bot", bot_id="B0BOT", app_id="A123ABC456",
                                               **(DM | {"user": SLACK_BOT})), "nothing"),
    Case("slack", "file_shared event", slack(type="file_shared", file_id="F0123ABC", user_id=SLACK_USER, file={"id": "F0123ABC"},
                                             channel_id="D123ABC456", event_ts=TS), "nothing"),
    Case("slack", "app home opened", slack(type="app_home_opened", user=SLACK_USER, channel="D123ABC456", tab="messages",
                                           event_ts=TS), "nothing"),
]


# WhatsApp: Graph notifications (docs/platforms.md 3.3) carrying one message, status or error.

WA_USER = {"from": "16505551234", "from_user_id": "US.13491208655302741918"}
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
MEDIA = {"mime_type": "image/jpeg", "sha256": "fWp+R4y5", "id": "1003383421387256"}
FILES = {MEDIA["id"]: png(), "voice-1": ogg(), "doc-1": pdf("Soup of the day")}  # what Graph serves
API = "http://api.test"  # the API fake's address, put in each payload as it is sent: links in them point there
LINKED = {"cat.jpg": FILES[MEDIA["id"]], "clip.mp4": FILES["voice-1"], "menu.pdf": FILES["doc-1"],  # Messenger's CDN
          "ME1": FILES[MEDIA["id"]], "ME2": FILES["voice-1"]}  # Twilio's media URLs
IMAGE_PART = f"[image {len(parts.image(FILES[MEDIA['id']], 'image/png')['image_url']['url'])} chars]"  # as the LLM fake echoes it


def whatsapp(field: str = "messages", **value: Any) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881",
                                                           "phone_number_id": "106540352242922"}, **value}
    change = {"field": field, "value": value}
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [change]}]}


def wa(kind: str, **content: Any) -> dict[str, Any]:
    """A notification of one message of type `kind` from the sample user."""
    message = {**WA_USER, "id": WAMID, "timestamp": str(NOW), "type": kind, **content}
    contact = {"profile": {"name": "Sheena Nelson"}, "wa_id": WA_USER["from"], "user_id": WA_USER["from_user_id"]}
    return whatsapp(contacts=[contact], messages=[message])


def wa_status(status: str) -> dict[str, Any]:
    return whatsapp(statuses=[{"id": WAMID, "status": status, "timestamp": "1750857384", "recipient_id": WA_USER["from"]}])


WHATSAPP = [
    Case("whatsapp", "text", wa("text", text={"body": "Another color?"}), "reply", "Another color?"),
    Case("whatsapp", "reply quoting a message", wa("text", text={"body": "this one"},
                                                   context={"from": "15550783881", "id": WAMID}), "reply", "this one"),
    Case("whatsapp", "text from an ad", wa("text", text={"body": "is it in stock?"}, referral={
        "source_url": "https://fb.me/2ZulEu42P", "source_type": "ad", "source_id": "120226305854810726", "headline": "Sale"}),
         "reply", "is it in stock?"),
    Case("whatsapp", "reply button", wa("interactive", context={"from": "15550783881", "id": WAMID}, interactive={
        "type": "button_reply", "button_reply": {"id": "book-yes", "title": "Yes, book it"}}), "reply", "Yes, book it"),
    Case("whatsapp", "list row", wa("interactive", interactive={"type": "list_reply", "list_reply": {
        "id": "slot-2", "title": "Tomorrow 10:00", "description": "With Dr. Ada"}}), "reply", "Tomorrow 10:00"),
    Case("whatsapp", "template quick reply", wa("button", button={"text": "Talk to sales", "payload": "SALES"}), "reply",
         "Talk to sales"),
    Case("whatsapp", "flow response", wa("interactive", interactive={"type": "nfm_reply", "nfm_reply": {
        "name": "flow", "body": "Sent", "response_json": "{\"flow_token\": \"t\"}"}}), "notice"),
    Case("whatsapp", "image", wa("image", image=MEDIA), "reply", IMAGE_PART),
    Case("whatsapp", "image with a caption", wa("image", image={**MEDIA, "caption": "what is this?"}), "reply",
         f"what is this? {IMAGE_PART}"),
    Case("whatsapp", "sticker", wa("sticker", sticker={**MEDIA, "mime_type": "image/webp", "animated": False}), "notice"),
    Case("whatsapp", "voice note",
         wa("audio", audio={**MEDIA, "id": "voice-1", "mime_type": "audio/ogg; codecs=opus", "voice": True}),
         "reply", "where is my parcel"),
    Case("whatsapp", "video", wa("video", video={**MEDIA, "mime_type": "video/mp4"}), "notice"),
    Case("whatsapp", "document",
         wa("document", document={**MEDIA, "id": "doc-1", "mime_type": "application/pdf", "filename": "menu.pdf"}),
         "reply", "[document menu.pdf]\nSoup of the day"),
    Case("whatsapp", "location", wa("location", location={"latitude": 37.48, "longitude": -122.15, "name": "Main St"}), "reply",
         "Location: 37.48, -122.15 (Main St)"),
    Case("whatsapp", "contact card", wa("contacts", contacts=[{"name": {"formatted_name": "Ada L"}, "phones": [
        {"phone": "+1 650 555 0000", "type": "CELL"}]}]), "reply", "Contact: Ada L, +1 650 555 0000"),
    Case("whatsapp", "reaction", wa("reaction", reaction={"message_id": WAMID, "emoji": "\U0001F44D"}), "nothing"),
    Case("whatsapp", "reaction removed", wa("reaction", reaction={"message_id": WAMID}), "nothing"),
    Case("whatsapp", "unsupported message", wa("unsupported", errors=[{"code": 131051, "title": "Message type unknown"}]),
         "nothing"),
    Case("whatsapp", "number change", wa("system", system={"body": "Sheena changed from 16505551234 to 16505550000",
                                                           "wa_id": "16505550000", "type": "user_changed_number"}), "nothing"),
    *[Case("whatsapp", f"status {status}", wa_status(status), "nothing") for status in ("sent", "delivered", "read", "failed")],
    Case("whatsapp", "error", whatsapp(errors=[{"code": 131051, "title": "Message type unknown"}]), "nothing"),
    Case("whatsapp", "echo from the business app", whatsapp("smb_message_echoes", message_echoes=[
        {"from": "15550783881", "to": WA_USER["from"], "id": WAMID, "timestamp": str(NOW), "type": "text",
         "text": {"body": "sent from the phone"}}]), "nothing"),
]


# Messenger: Page notifications (docs/platforms.md 4.3) with one messaging event.

PAGE, PSID = "104512345678901", "6789012345678901"
PICTURE = {"url": f"{API}/v/t1.15752-9/cat.jpg?oh=00_AfB&oe=6790"}
REFERRAL = {"ref": "summer", "source": "SHORTLINK", "type": "OPEN_THREAD"}  # an m.me link opened


def messenger(key: str = "messaging", **event: Any) -> dict[str, Any]:
    event = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": NOW * 1000 + 100, **event}
    return {"object": "page", "entry": [{"id": PAGE, "time": 1767225600123, key: [event]}]}


def attachment(kind: str, name: str = "cat.jpg", **payload: Any) -> dict[str, Any]:
    url = PICTURE["url"].replace("cat.jpg", name)
    return messenger(message={"mid": "m_AbC1", "attachments": [{"type": kind, "payload": {"url": url, **payload}}]})


MESSENGER = [
    Case("messenger", "text", messenger(message={"mid": "m_AbC1", "text": "hello, world!"}), "reply", "hello, world!"),
    Case("messenger", "quick reply", messenger(message={"mid": "m_AbC1", "text": "Red", "quick_reply": {"payload": "COLOR_RED"}}),
         "reply", "Red"),
    Case("messenger", "reply to a message", messenger(message={"mid": "m_AbC2", "text": "that one",
                                                               "reply_to": {"mid": "m_AbC1"}}), "reply", "that one"),
    Case("messenger", "postback button", messenger(postback={"mid": "m_PbK1", "title": "Track my order", "payload": "TRACK"}),
         "reply", "Track my order"),
    Case("messenger", "Get Started", messenger(postback={"mid": "m_PbK2", "title": "Get Started", "payload": "GET_STARTED",
                                                         "referral": REFERRAL}), "reply", "Get Started"),
    Case("messenger", "postback without a mid", messenger(postback={"title": "Menu", "payload": "MENU"}), "reply", "Menu"),
    Case("messenger", "image", attachment("image"), "reply", IMAGE_PART),
    Case("messenger", "sticker", messenger(message={"mid": "m_AbC1", "sticker_id": 369239263222822, "attachments": [
        {"type": "image", "payload": {**PICTURE, "sticker_id": 369239263222822}}]}), "notice"),
    Case("messenger", "voice clip", attachment("audio", "clip.mp4"), "reply", "where is my parcel"),
    Case("messenger", "video", attachment("video", "clip.mp4"), "notice"),
    Case("messenger", "file", attachment("file", "menu.pdf"), "reply", "[document menu.pdf]\nSoup of the day"),
    Case("messenger", "the Page's own echo", messenger(sender={"id": PAGE}, recipient={"id": PSID}, message={
        "mid": "m_AbC9", "text": "LLM: hello", "is_echo": True, "app_id": 1517776481860111}), "nothing"),
    Case("messenger", "read", messenger(read={"watermark": 1767225600000}), "nothing"),
    Case("messenger", "delivery", messenger(delivery={"mids": ["m_AbC9"], "watermark": 1767225600000}), "nothing"),
    Case("messenger", "reaction", messenger(reaction={"mid": "m_AbC9", "action": "react", "reaction": "love", "emoji": "❤"}),
         "nothing"),
    Case("messenger", "edit", messenger(message_edit={"mid": "m_AbC1", "text": "hello, world!!", "num_edit": 1}), "nothing"),
    Case("messenger", "referral", messenger(referral=REFERRAL), "nothing"),
    Case("messenger", "opt-in", messenger(optin={"ref": "newsletter", "user_ref": "UREF1"}), "nothing"),
    Case("messenger", "message on standby", messenger("standby", message={"mid": "m_AbC1", "text": "for the inbox"}), "nothing"),
]


# Twilio: form webhooks (docs/platforms.md 5.3).

SMS = {"MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "AccountSid": "AC0123", "From": "+14155551234",
       "To": "+15557654321", "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
WA = {**SMS, "From": "whatsapp:+14155551234", "To": "whatsapp:+14155238886", "ProfileName": "Ada", "WaId": "14155551234"}


def media(form: dict[str, str], mime: str, body: str = "", sid: str = "ME1") -> dict[str, str]:
    return {**form, "Body": body, "NumMedia": "1", "MediaContentType0": mime,
            "MediaUrl0": f"{API}/twilio/2010-04-01/Accounts/AC0123/Messages/MM1/Media/{sid}"}


def status(form: dict[str, str], state: str) -> dict[str, str]:
    """A status callback about one of the bot's messages: from our number, to the user."""
    return {**form, "From": form["To"], "To": form["From"], "MessageStatus": state, "SmsStatus": state}


TWILIO = [
    Case("twilio", "SMS", {**SMS, "Body": "hello bot"}, "reply", "hello bot"),
    Case("twilio", "MMS with words", media(SMS, "image/jpeg", "what is this?"), "reply", f"what is this? {IMAGE_PART}"),
    Case("twilio", "MMS alone", media(SMS, "image/jpeg"), "reply", IMAGE_PART),
    Case("twilio", "WhatsApp text", {**WA, "Body": "hola", "MessageType": "text"}, "reply", "hola"),
    Case("twilio", "WhatsApp quick-reply button", {**WA, "Body": "Sales", "MessageType": "button", "ButtonText": "Sales",
                                                  "ButtonPayload": "SALES"}, "reply", "Sales"),
    Case("twilio", "WhatsApp sticker", media(WA, "image/webp"), "reply", IMAGE_PART),  # Twilio tells it from no photo
    Case("twilio", "WhatsApp voice note", media(WA, "audio/ogg", sid="ME2"), "reply", "where is my parcel"),
    Case("twilio", "WhatsApp location", {**WA, "Body": "", "MessageType": "location", "Latitude": "37.7749",
                                         "Longitude": "-122.4194", "Address": "Market St", "Label": "Office"}, "reply",
         "Location: 37.7749, -122.4194 (Office, Market St)"),
    *[Case("twilio", f"status {state}", status(SMS, state), "nothing") for state in ("sent", "delivered", "undelivered")],
    Case("twilio", "WhatsApp read status", status(WA, "read"), "nothing"),
]


# LINE: webhook bodies as line-bot-sdk's models write them.

LINE_USER, LINE_GROUP = "U206d25c2ea6bd87c17655609a1c37cb8", "Ca56f94637cc4347f90a25382909b24b9"
PROVIDER = line_sdk.ContentProvider(type="line")


def line(kind: type[line_sdk.Event], source: line_sdk.Source | None = None, **fields: Any) -> bytes:
    event = kind(source=source or line_sdk.UserSource(user_id=LINE_USER), timestamp=int(time.time() * 1000),
                 mode=fields.pop("mode", line_sdk.EventMode.ACTIVE), webhook_event_id="01JAXXXXXXXXXXXXXXXXXXXXXX",
                 delivery_context=line_sdk.DeliveryContext(is_redelivery=fields.pop("redelivery", False)), **fields)
    return line_sdk.CallbackRequest(destination="U" + "0" * 32, events=[event]).to_json().encode()


def line_message(content: line_sdk.MessageContent, **fields: Any) -> bytes:
    return line(line_sdk.MessageEvent, reply_token="nHuyWiB7yP5Zw52FIkcQobQuGDXCTA", message=content, **fields)


def line_text(text: str) -> line_sdk.TextMessageContent:
    return line_sdk.TextMessageContent(id="325708", text=text, quote_token="q3Plxr4AgKd")


IN_GROUP = line_sdk.GroupSource(group_id=LINE_GROUP, user_id=LINE_USER)
MEMBER = line_sdk.UserSource(user_id=LINE_USER)
LINE = [
    Case("line", "text", line_message(line_text("Hello, world")), "reply", "Hello, world"),
    Case("line", "text in a group", line_message(line_text("hi all"), source=IN_GROUP), "reply", "hi all"),
    Case("line", "redelivered text", line_message(line_text("again"), redelivery=True), "reply", "again"),
    Case("line", "sticker", line_message(line_sdk.StickerMessageContent(
        id="1", package_id="446", sticker_id="1988", sticker_resource_type="STATIC", quote_token="q")), "notice"),
    Case("line", "image", line_message(line_sdk.ImageMessageContent(id=MEDIA["id"], content_provider=PROVIDER, quote_token="q")),
         "reply", IMAGE_PART),
    Case("line", "video", line_message(line_sdk.VideoMessageContent(id="1", duration=6000, content_provider=PROVIDER,
                                                                    quote_token="q")), "notice"),
    Case("line", "voice", line_message(line_sdk.AudioMessageContent(id="voice-1", duration=3000, content_provider=PROVIDER)),
         "reply", "where is my parcel"),
    Case("line", "file", line_message(line_sdk.FileMessageContent(id="doc-1", file_name="menu.pdf", file_size=2048)),
         "reply", "[document menu.pdf]\nSoup of the day"),
    Case("line", "location", line_message(line_sdk.LocationMessageContent(id="1", latitude=35.65, longitude=139.7,
                                                                          address="Tokyo")), "reply",
         "Location: 35.65, 139.7 (Tokyo)"),
    Case("line", "text on standby", line(line_sdk.MessageEvent, mode=line_sdk.EventMode.STANDBY, message=line_text("not ours")),
         "nothing"),
    Case("line", "follow", line(line_sdk.FollowEvent, reply_token="t", follow=line_sdk.FollowDetail(is_unblocked=False)),
         "nothing"),
    Case("line", "unfollow", line(line_sdk.UnfollowEvent), "nothing"),
    Case("line", "join a group", line(line_sdk.JoinEvent, source=IN_GROUP, reply_token="t"), "nothing"),
    Case("line", "leave a group", line(line_sdk.LeaveEvent, source=IN_GROUP), "nothing"),
    Case("line", "member joins", line(line_sdk.MemberJoinedEvent, source=IN_GROUP, reply_token="t",
                                      joined=line_sdk.JoinedMembers(members=[MEMBER])), "nothing"),
    Case("line", "member leaves", line(line_sdk.MemberLeftEvent, source=IN_GROUP, left=line_sdk.LeftMembers(members=[MEMBER])),
         "nothing"),
    Case("line", "postback", line(line_sdk.PostbackEvent, reply_token="t", postback=line_sdk.PostbackContent(data="buy=1")),
         "nothing"),
    Case("line", "unsend", line(line_sdk.UnsendEvent, unsend=line_sdk.UnsendDetail(message_id="325708")), "nothing"),
    Case("line", "edit", line(line_sdk.MessageEditedEvent, source=IN_GROUP, message=line_text("hi all!")), "nothing"),
    Case("line", "video watched", line(line_sdk.VideoPlayCompleteEvent, reply_token="t",
                                       video_play_complete=line_sdk.VideoPlayComplete(tracking_id="promo")), "nothing"),
]


# Generic signed webhooks (docs/platforms.md 9).

GENERIC = [
    Case("webhook", "text", {"conversation_id": "crm-42", "user_id": "u-7", "text": "hello bot"}, "reply", "hello bot"),
    Case("webhook", "text with a name and fields of its own", {"conversation_id": "shop:9", "user_id": "u-8", "user_name": "Ada",
                                                               "text": "Grüße 😀", "source": "zapier", "meta": {"zap": 1}},
         "reply", "Grüße 😀"),
]


CASES = [*SLACK, *WHATSAPP, *MESSENGER, *TWILIO, *LINE, *GENERIC]


def _linked(payload: Any, api: FakePlatform) -> Any:
    """The payload with its media links at the API fake."""
    if isinstance(payload, bytes):
        return payload.replace(API.encode(), api.url.encode())
    return json.loads(json.dumps(payload).replace(API, api.url))


@pytest.mark.parametrize("case", CASES, ids=[f"{case.platform}: {case.kind}" for case in CASES])
def test_every_payload_kind_ends_in_its_one_outcome(client, run_worker, redis, api, case: Case):
    assert POST[case.platform](client, _linked(case.payload, api)).status_code == 200
    run_worker()
    expected = {"reply": [f"LLM: {case.text}"], "notice": [NOTICE], "nothing": []}[case.outcome]
    assert sent(api) == expected
    assert ledger.counts(redis) == ({OUTCOMES[case.outcome]: 1} if expected else {})
    if not expected:
        assert stored(redis) == []


@pytest.mark.parametrize("case", LINE, ids=[case.kind for case in LINE])
def test_line_answers_exactly_what_line_bot_sdk_reads_as_a_message_in_a_chat_of_ours(case: Case):
    [event] = WebhookParser(LINE_SECRET).parse(case.payload.decode(), line_signature(case.payload))
    message_of_ours = isinstance(event, line_sdk.MessageEvent) and event.mode == line_sdk.EventMode.ACTIVE
    assert message_of_ours == (case.outcome != "nothing")
