"""One Config built from the environment, validated at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Mapping

OFFLINE_MODEL_HINT = ("Neither OPENAI_API_KEY nor OPENAI_BASE_URL is set: replies come from the offline stand-in model. "
                      "Set OPENAI_API_KEY (and OPENAI_MODEL), or OPENAI_BASE_URL for another server, keyless or not, to use "
                      "a real one.")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and what to do."""


@dataclass(frozen=True)
class Config:
    """Every core setting; each field is read from the upper-cased variable of the same name."""

    redis_url: str = "redis://localhost:6379/0"
    openai_api_key: str = ""  # empty, with no OPENAI_BASE_URL either: the offline stand-in model answers
    openai_base_url: str = ""  # empty: OpenAI itself; or any OpenAI-compatible server, which may need no key
    openai_model: str = "gpt-5.4-mini"  # OpenAI's small tier; `flask check` says when the server does not offer it
    openai_timeout: float = 30.0  # seconds for one LLM call
    openai_max_retries: int = 3  # retries of a transient LLM failure, after the first try
    openai_max_tokens: int = 1024  # the longest visible reply; sent with a reasoning allowance when reasoning_effort is
    openai_max_tokens_parameter: str = ""  # max_completion_tokens or max_tokens; empty: chosen by OPENAI_BASE_URL
    openai_reasoning_effort: str = "low"  # sent unless empty, or refused by the model (then left out)
    openai_api: str = "chat"  # chat completions, which every OpenAI-compatible server speaks; or "responses" (OpenAI's)
    platform_timeout: float = 15.0  # seconds for one call to a chat platform's API
    platform_max_retries: int = 4  # retries of a transient delivery failure
    prompts_dir: str = "prompts"
    prompt: str = "system.md"  # the default prompt file in prompts_dir; prompts/<platform>.md overrides it
    timezone: str = "UTC"  # for the date and time prompts see, and for the triggers' cron expressions
    triggers_file: str = "prompts/triggers.yaml"  # recurring messages: cron, prompt or text, audience
    history_max_messages: int = 20  # user and assistant messages kept per conversation
    history_max_tokens: int = 3000  # of those, the newest that fit this many (estimated) tokens go to the LLM; 0 = all
    history_ttl: int = 7 * 86400  # seconds of inactivity after which a conversation is forgotten
    contact_ttl: int = 90 * 86400  # seconds a conversation stays reachable for proactive messages (its text is not kept)
    dead_letter_ttl: int = 30 * 86400  # seconds a dead letter, its messages' text included, is kept for an operator
    history_summary: bool = True  # summarise messages as they leave the history, instead of forgetting them
    lease_seconds: int = 10  # a turn's hold on its conversation, renewed every third of it; lapses this long after a crash
    turn_deadline: int = 300  # seconds one turn may take, retries included: no retry waits past it
    worker_concurrency: int = 8  # turns one worker process runs at once, each on a thread (an RQ worker each)
    shutdown_grace: int = 20  # seconds a turn may run on after SIGTERM before it is handed back (Heroku kills at 30)
    queue_name: str = "turns"
    max_body_bytes: int = 1024 * 1024
    trusted_proxies: int = 1  # proxies in front whose X-Forwarded-For/-Proto/-Port are believed: Heroku's router; 0: none
    webchat_enabled: bool = False
    webchat_rate_limit: int = 20  # messages per minute from one address
    webchat_upload_max_bytes: int = 5 * 1024 * 1024  # the largest photo or voice note the chat page takes (not MAX_BODY_BYTES)
    failure_notice: str = "Sorry, I can't answer right now. Please try again in a few minutes."
    burst_window: float = 1.0  # seconds of quiet that end a burst of messages; 0 answers each turn at once
    burst_max_wait: float = 5.0  # the longest a message waits for its burst to end
    burst_mode: str = "queue"  # "queue": messages sent during a turn wait for the next; "restart": fold them in
    streaming: bool = True  # show replies while the model writes them, where the platform has a safe way (docs/streaming.md)
    stream_max_frames: int = 20  # of a reply being written, the most frames shown: what bounds the platform calls per reply
    webchat_max_streams: int = 2  # chat pages one web process streams to at once (each holds a thread); more poll
    webchat_stream_seconds: int = 300  # then the page reconnects, so no tab holds a thread for long
    user_rate_limit: int = 20  # messages per minute from one user; 0 = off
    user_daily_tokens: int = 100_000  # LLM tokens per user per day (UTC); 0 = off
    rate_limit_notice: str = "You're sending messages faster than I can answer. Please wait a minute."
    budget_notice: str = "You've reached today's limit for this assistant. Please come back tomorrow."
    non_text_notice: str = "Sorry, I can only read text messages."  # empty: ignore stickers, images, voice
    media_max_bytes: int = 20 * 1024 * 1024  # the largest voice note, photo or document fetched; larger ones get a notice
    audio_max_seconds: int = 600  # the longest voice note transcribed
    document_max_chars: int = 20_000  # of a document's text, what the model gets
    vision: bool = True  # photos go to the model as images; false: it hears only that a photo came
    openai_transcribe_model: str = "gpt-transcribe"  # POST /audio/transcriptions on OPENAI_BASE_URL
    media_limit_notice: str = "Sorry, that file is too large or too long for me to open."
    media_unreadable_notice: str = "Sorry, I can't open that kind of file."
    handoff_notice: str = "I've asked a colleague to take over. They'll answer you here soon."
    handoff_timeout: int = 24 * 3600  # seconds before a paused conversation goes back to the bot; 0 = until resumed
    metrics_token: str = ""  # bearer token of /metrics; empty: /metrics is open (it shows counts, never messages)
    api_token: str = ""  # bearer token of the /api endpoints; empty: the API is off
    admin_username: str = ""  # with ADMIN_PASSWORD, turns on /admin and /admin/rq (HTTP basic auth)
    admin_password: str = ""
    transcript_ttl: int = 14 * 86400  # seconds the console keeps a conversation's turn log after its last entry, texts included
    cost_per_million_tokens: float = 1.7  # for the admin page's cost estimate: your model's price, in dollars (gpt-5.4-mini's
    # $0.75 in and $4.50 out, blended at three prompt tokens to one written, as a chat's history makes them)
    events_urls: str = ""  # comma-separated URLs that receive conversation events; empty: none sent
    events_secret: str = ""  # whsec_... that signs the events (Standard Webhooks)
    event_rules_file: str = "events.yaml"  # in prompts_dir: which business event (Stripe, Shopify, ...) becomes which message
    event_payload_ttl: int = 7 * 86400  # seconds a received business event's payload is kept for inspection
    tools_webhook_secret: str = ""  # whsec_... that signs the calls to webhook tools (Standard Webhooks)
    tools_allowlist: str = ""  # hosts tools may be called at, written as GENERIC_CALLBACK_ALLOWLIST is
    tools_max_rounds: int = 5  # rounds of tool calls in one turn; then the model must answer
    tools_timeout: float = 10.0  # seconds one tool call may take, unless its file says otherwise
    tools_max_retries: int = 2  # retries of a transient failure, for idempotent tools only
    log_level: str = "INFO"
    log_format: str = "json"  # one JSON object per line; "text" for reading by eye (make run sets it)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # platforms read their own settings here

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build from `environ` (default: the process environment); raises ConfigError when malformed."""
        env = dict(os.environ if environ is None else environ)
        values = {f.name: _parse(f.name.upper(), env[f.name.upper()], f.type) for f in fields(cls)
                  if f.name.upper() in env and f.name != "env"}
        return cls(**values, env=env)

    def setting(self, name: str, default: str = "") -> str:
        """A platform's own setting, such as TELEGRAM_BOT_TOKEN."""
        return self.env.get(name, default).strip()

    def for_platform(self, platform: str, name: str) -> float:
        """A numeric core setting a platform may override, such as TELEGRAM_BURST_WINDOW over BURST_WINDOW."""
        own = self.setting(f"{platform.upper()}_{name.upper()}")
        return float(_parse(f"{platform.upper()}_{name.upper()}", own, "float")) if own else float(getattr(self, name))

    @property
    def turn_timeout(self) -> int:
        """The RQ job timeout: a job starts no turn past one deadline, and its last turn ends within another."""
        return int(2 * self.turn_deadline + self.burst_max_wait + max(self.openai_timeout, self.platform_timeout) + 60)

    @property
    def offline(self) -> bool:
        """True when no LLM is configured (no key, no server) and the offline stand-in answers."""
        return not (self.openai_api_key or self.openai_base_url)


def _parse(name: str, raw: str, kind: str) -> object:
    raw = raw.strip()
    try:
        if kind == "bool":
            return raw.lower() in ("1", "true", "yes", "on")
        if kind in ("int", "float"):
            value = int(raw) if kind == "int" else float(raw)
            if value < 0:
                raise ValueError
            return value
    except ValueError:
        raise ConfigError(f"{name} must be a non-negative {kind}, got {raw!r}: fix it in the environment.") from None
    return raw
