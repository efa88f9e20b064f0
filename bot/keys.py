"""The name of every Redis key the bot keeps, in one place."""

from __future__ import annotations

PREFIX = "bot"


def _key(*parts: str) -> str:
    return ":".join((PREFIX, *parts))


def seen(platform: str, message_id: str) -> str:
    """Marks a platform message id as delivered, for dedupe."""
    return _key("seen", platform, message_id)


def inbox(conversation: str) -> str:
    """Messages waiting for the conversation's next turn, oldest first."""
    return _key("inbox", conversation)


def pending(conversation: str) -> str:
    """Set while a turn job for the conversation is queued or running."""
    return _key("pending", conversation)


def lease(conversation: str) -> str:
    """The running turn's hold on the conversation; it expires if its worker dies."""
    return _key("lease", conversation)


def batch(conversation: str) -> str:
    """The messages the running turn answers, moved out of the inbox in one step."""
    return _key("batch", conversation)


def turn(conversation: str) -> str:
    """The running turn's state: its messages, the LLM's reply, the parts already sent."""
    return _key("turn", conversation)


def history(conversation: str) -> str:
    """The conversation's recent messages, for the LLM's context."""
    return _key("history", conversation)


def active() -> str:
    """Conversations with a turn queued or running, scored by when it must next show signs of life."""
    return _key("active")


def dead_letters() -> str:
    """The index of dead letters, scored by time."""
    return _key("dead")


def dead_letter(letter_id: str) -> str:
    """One dead letter: a failed turn with everything needed to replay it."""
    return _key("dead", letter_id)


def outcome(platform: str, message_id: str) -> str:
    """What became of one message: the outcome ledger."""
    return _key("outcome", platform, message_id)


def recent() -> str:
    """Conversations scored by when their last turn finished, for the admin page."""
    return _key("recent")


def outcome_counts() -> str:
    """How many messages ended in each outcome."""
    return _key("outcomes")


def channel(platform: str, *parts: str) -> str:
    """A key a platform adapter keeps for itself, such as the web chat's reply streams."""
    return _key("channel", platform, *parts)


def rejects() -> str:
    """The newest payloads refused for their shape, secrets removed."""
    return _key("rejects")


def rejects_unsigned() -> str:
    """The newest refused payloads of platforms anyone may post to (the chat page), apart from the signed ones."""
    return _key("rejects", "unsigned")


def rejects_counts() -> str:
    """How many payloads each platform had refused for their shape."""
    return _key("rejects", "counts")


def usage(user: str, what: str, window: str) -> str:
    """A user's usage counter for one window: messages this minute, tokens today, notices sent."""
    return _key("usage", user, what, window)


def summary(conversation: str) -> str:
    """What the LLM wrote of the conversation's older messages, once they left the history."""
    return _key("summary", conversation)


def outbox(conversation: str) -> str:
    """Messages the bot sends on its own (the API's proactive messages), sent by the conversation's next turn."""
    return _key("outbox", conversation)


def contact(conversation: str) -> str:
    """The conversation's newest message: where and how to reach its user for a proactive message."""
    return _key("contact", conversation)


def paused(conversation: str) -> str:
    """Set while a person, not the bot, answers the conversation: the handoff."""
    return _key("paused", conversation)


def trigger(name: str, tick: str) -> str:
    """Set by the one worker that fired a trigger for this tick."""
    return _key("trigger", name, tick)


def prompt(name: str) -> str:
    """The last version of a prompt file that worked: served while the file is broken."""
    return _key("prompt", name)


def metrics() -> str:
    """Every counter and histogram bucket of /metrics, one hash field each."""
    return _key("metrics")


def scheduled(item_id: str) -> str:
    """A proactive message waiting for its time: its RQ job names only the id, as /admin/rq shows job arguments."""
    return _key("scheduled", item_id)


def event(event_id: str, url: str) -> str:
    """An outbound event's body, waiting for its delivery to `url`: the RQ job names only the ids."""
    return _key("event", event_id, url)


def login_failures(address: str) -> str:
    """Wrong admin credentials sent from one client address in the last minute."""
    return _key("admin", "failures", address)


def journal(conversation: str) -> str:
    """The running turn's tool calls: each written before it is sent and its result after, so no retry repeats one."""
    return _key("journal", conversation)


def tool_file(name: str) -> str:
    """The last version of a tool file (or of mcp.yaml) that worked: served while the file is broken."""
    return _key("toolfile", name)


def tool_calls() -> str:
    """The newest tool calls, for the admin page: tool, conversation, milliseconds, outcome (never arguments or results)."""
    return _key("toolcalls")


def transcript(conversation: str) -> str:
    """The conversation's turn log for the operator console: messages in and out with their outcomes (bot.transcript)."""
    return _key("transcript", conversation)


def minute(number: int) -> str:
    """One minute's counts for the console's charts (turns by outcome, LLM errors, reply latency buckets)."""
    return _key("minute", str(number))


def prompts_check() -> str:
    """The newest `prompts check` result: when, its problems and warnings, for the console."""
    return _key("promptscheck")


def prompt_turns(day: str) -> str:
    """Turns answered by each prompt (name@version) on one day (UTC), for the console."""
    return _key("promptturns", day)


def console_form(form_id: str) -> str:
    """Set once a console form (a person's reply) was sent: its second sending does nothing."""
    return _key("console", "form", form_id)


def business_event(source: str, event_id: str) -> str:
    """A business event received at /events/<source>: its payload, kept for its job and then for inspection."""
    return _key("bizevent", source, event_id)


def business_routed(source: str, event_id: str) -> str:
    """Set by the one job run that gave a business event its outcome: a retried job never sends it twice."""
    return _key("bizrouted", source, event_id)
