"""The operator console's pages under /admin: overview, conversations, one conversation, dead letters, handoffs, prompts.

Server-rendered, read through the core's own functions; every action is a form posting to handlers.console_actions.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from bot import times
from bot.messages import IncomingMessage
from bot.ops import checks, deadletters, directory, ledger, series, transcript
from bot.runtime import app_runtime
from bot.turn import handoff
from bot.turn.conversation import Conversation
from handlers import metrics

bp = Blueprint("console", __name__, url_prefix="/admin", template_folder="templates", static_folder="static")

PAGE_SIZE = 50
NOTICES = {  # what an action's redirect says, by the code it carries: never text from the request itself
    "replayed": "Replayed: the messages are back in their conversation for a new turn.", "purged": "Every dead letter is gone.",
    "paused": "Handed to a person: the bot stays silent in this conversation.", "resumed": "The bot answers again.",
    "replied": "Sent: the reply goes out in order, through the conversation's own turn.", "checked": "Prompts checked.",
    "unknown": "Nobody has written in this conversation yet: nothing to send or hand over.",
    "confirm": "Nothing purged: tick the box to confirm.", "stale": "Not sent: reload the page and write it again.",
    "window": "Not sent: the user last wrote longer ago than their platform takes free-form text (WhatsApp: 24 hours).",
    "empty": "Not sent: write a reply of 1 to 4000 characters.", "gone": "No such dead letter: replayed or purged already?"}


@bp.app_template_filter("when")
def when(at: float | None) -> str:
    """A Unix time as UTC, to the second."""
    return times.stamp(at) if at else ""


@bp.context_processor
def _notice() -> dict[str, Any]:
    return {"notice": NOTICES.get(request.args.get("done", ""), "")}


@bp.get("")
def overview() -> str:
    """Turns by outcome, reply latency, LLM errors over the last hour and day; the queue; usage and tool calls."""
    rt = app_runtime()
    rt.metrics.flush()  # this process's latest counts too
    return render_template("console/overview.html", hour=series.window(rt.redis, 60), day=series.window(rt.redis, 1440),
                           gauges=metrics.gauges(rt), outcomes=ledger.counts(rt.redis), usage=directory.usage_today(rt.redis),
                           price=rt.config.cost_per_million_tokens, calls=directory.tool_calls(rt.redis))


@bp.get("/conversations")
def conversations() -> str:
    """Conversations newest first, searched by platform, id or user name, a page at a time."""
    query, number = request.args.get("q", "")[:200], max(1, request.args.get("page", 1, type=int))
    rows, more = directory.page(app_runtime().redis, query, number, PAGE_SIZE)
    return render_template("console/conversations.html", rows=rows, query=query, number=number, more=more)


@bp.get("/conversations/<path:conversation>")
def conversation(conversation: str) -> str:
    """One conversation: its state, its handoff, its dead letters, and its transcript with each message's outcome."""
    rt = app_runtime()
    letters = [_shown(letter) for letter in deadletters.newest(rt.redis, deadletters.CAPACITY)
               if letter["conversation"] == conversation]
    return render_template("console/conversation.html", conversation=conversation, letters=letters,
                           contact=Conversation(rt.redis, conversation, rt.config).contact(),
                           states=directory.states(rt.redis, conversation), paused=handoff.status(rt.redis, conversation),
                           entries=transcript.entries(rt.redis, conversation))


@bp.get("/dead-letters")
def dead_letters() -> str:
    """The newest dead letters: why, the messages, a replay button each; and purge."""
    letters = [_shown(letter) for letter in deadletters.newest(app_runtime().redis, 100)]
    return render_template("console/dead_letters.html", letters=letters)


def _shown(letter: dict[str, Any]) -> dict[str, Any]:
    """A dead letter with its messages' texts (a proactive message's too), as the page shows them."""
    texts = [IncomingMessage.from_json(raw).text for raw in letter["messages"]]
    outgoing = letter.get("outgoing") or {}
    return {**letter, "texts": texts + ([outgoing.get("text") or f"(from prompt {outgoing.get('prompt')})"] if outgoing else [])}


@bp.get("/handoff")
def handoffs() -> str:
    """Conversations handed to a person, with resume and a reply box each; and a form to hand one over."""
    return render_template("console/handoff.html", paused=directory.paused(app_runtime().redis))


@bp.get("/prompts")
def prompts() -> str:
    """The prompt files and their versions, which are live, the turns each answered today, and the last check."""
    rt = app_runtime()
    live = {name: [platform for platform in rt.channels if rt.prompts.pick(platform) == name] for name, _ in rt.prompts.files()}
    return render_template("console/prompts.html", files=rt.prompts.files(), live=live, default=rt.prompts.default,
                           turns=transcript.prompt_turns(rt.redis), check=checks.last_prompts_check(rt.redis))
