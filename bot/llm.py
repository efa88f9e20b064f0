"""The LLM: OpenAI's chat completions (or any compatible server), and an offline stand-in."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Iterator, Protocol

import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion

from bot.config import Config
from bot.errors import BotError, Permanent, Transient
from bot.ops.metrics import Metrics
from bot.parameters import CAPS, Parameters, first_cap
from bot.retry import retry_after, with_retries

logger = logging.getLogger(__name__)

Messages = list[dict[str, str]]
KEYLESS = "none"  # the key sent to a server at OPENAI_BASE_URL when OPENAI_API_KEY is empty


@dataclass(frozen=True)
class Completion:
    """The LLM's reply and what it cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # how long the call took, retries not included


class LLM(Protocol):
    """Anything that turns a chat history into the assistant's next message."""

    def complete(self, messages: Messages, options: dict[str, Any] | None = None) -> Completion:
        """Answer, or raise Transient / Permanent; `options` are a prompt's model, max_tokens and sampling settings."""
        ...


class OpenAIChat:
    """Chat completions through the openai SDK, in the form each model takes (bot.parameters)."""

    def __init__(self, config: Config) -> None:
        self.model = config.openai_model
        self.max_tokens = config.openai_max_tokens
        self.defaults = {"reasoning_effort": config.openai_reasoning_effort}
        self.parameters = Parameters(first_cap(config.openai_base_url, config.openai_max_tokens_parameter))
        self.client = client(config)

    def complete(self, messages: Messages, options: dict[str, Any] | None = None) -> Completion:
        """One chat completion, with the SDK's errors mapped onto Transient and Permanent."""
        settings = {**self.defaults, **(options or {})}
        model, cap = settings.pop("model", self.model), int(settings.pop("max_tokens", self.max_tokens))
        while True:  # each refusal learned renames or leaves out one of a handful of parameters, so this ends
            body = self.parameters.body(model, settings, cap)
            response = self._post(model, body, messages)
            if response is not None:
                return _completion(body, response)

    def _post(self, model: str, body: dict[str, Any], messages: Messages) -> ChatCompletion | None:
        """The server's answer; None when it refused a parameter that may be renamed or left out (learned for next time)."""
        with _mapped():
            try:
                # client.post, not chat.completions.create: the body is plain JSON already, and create's walk over
                # every message checking it against the SDK's types cost a third of a turn's CPU (bench/e2e.py)
                return self.client.post("/chat/completions", body={**body, "messages": messages}, cast_to=ChatCompletion)
            except openai.BadRequestError as error:
                if not self.parameters.learn(model, body, error):
                    raise
        return None  # made again at once: a refused parameter is not a failure


def _completion(body: dict[str, Any], response: ChatCompletion) -> Completion:
    choice, usage = response.choices[0], response.usage
    text = choice.message.content or ""
    if not text.strip() and choice.finish_reason == "length":
        raise _cut_off(body, usage)
    return Completion(text, usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0)


def _cut_off(body: dict[str, Any], usage: CompletionUsage | None) -> Permanent:
    """An empty reply that stopped at the cap: a reasoning model spent it all on reasoning."""
    cap = next(body[name] for name in CAPS if name in body)
    details = usage.completion_tokens_details if usage else None
    reasoning = details.reasoning_tokens if details and details.reasoning_tokens is not None else "unknown"
    effort = body.get("reasoning_effort", "the model's default")
    logger.error("LLM %s wrote no reply: it reached its cap of %s tokens (%s of them reasoning, at reasoning_effort %s). "
                 "Raise OPENAI_MAX_TOKENS or the prompt's max_tokens, or lower its reasoning_effort.",
                 body["model"], cap, reasoning, effort)
    return Permanent(f"LLM reached its cap of {cap} tokens before writing ({reasoning} reasoning)", kind="cut_off")


@contextmanager
def _mapped() -> Iterator[None]:
    """The SDK's errors, raised as Transient or Permanent."""
    try:
        yield
    except openai.APIStatusError as error:
        raise _classify(error) from error
    except openai.APITimeoutError as error:
        raise Transient(f"LLM timed out: {error}", kind="timeout") from error
    except openai.APIConnectionError as error:
        raise Transient(f"LLM unreachable: {error}", kind="connection") from error


def model_ids(config: Config) -> list[str]:
    """The models the configured server offers (GET /models); raises Transient or Permanent."""
    with _mapped():
        return [model.id for model in client(config).models.list()]


def client(config: Config) -> openai.OpenAI:
    """The SDK's client for the configured server; its own retries are off, bot.retry does them."""
    # Keyless servers (Ollama, llama.cpp, vLLM) ignore the key, but the SDK will not start without one.
    return openai.OpenAI(api_key=config.openai_api_key or KEYLESS, base_url=config.openai_base_url or None,
                         timeout=config.openai_timeout, max_retries=0)


def _classify(error: openai.APIStatusError) -> Exception:
    status = error.status_code
    if getattr(error, "code", None) == "insufficient_quota":
        logger.error("LLM quota exhausted: add credit or raise the limit in the provider's billing settings")
        return Permanent("LLM quota exhausted", kind="quota")
    if status in (408, 409, 429) or status >= 500:
        kind = "rate_limited" if status == 429 else "server" if status >= 500 else "timeout"
        return Transient(f"LLM answered {status}", retry_after(error.response.headers.get("retry-after")), kind)
    if status in (401, 403):
        logger.error("LLM refused the credentials (%s): check OPENAI_API_KEY and OPENAI_BASE_URL", status)
        return Permanent(f"LLM answered {status}: {error.message}", kind="refused")
    return Permanent(f"LLM answered {status}: {error.message}", kind="invalid_request")


class OfflineModel:
    """A development stand-in used when neither OPENAI_API_KEY nor OPENAI_BASE_URL is set: it says what it is and echoes."""

    def complete(self, messages: Messages, options: dict[str, Any] | None = None) -> Completion:
        """Echo the user's latest messages."""
        latest = []
        for message in reversed(messages):
            if message["role"] != "user":
                break
            latest.insert(0, message["content"])
        return Completion("(offline model) you said: " + " / ".join(latest))


class Measured:
    """An LLM whose every call shows in the metrics: latency, tokens, and errors by kind."""

    def __init__(self, llm: LLM, metrics: Metrics) -> None:
        self.llm = llm
        self.metrics = metrics

    def complete(self, messages: Messages, options: dict[str, Any] | None = None) -> Completion:
        """The wrapped LLM's answer, timed and counted."""
        started = time.monotonic()
        try:
            completion = self.llm.complete(messages, options)
        except BotError as error:
            self.metrics.observe("llm_seconds", time.monotonic() - started, outcome="error")
            self.metrics.count("llm_errors", kind=error.kind or "other")
            raise
        seconds = time.monotonic() - started
        self.metrics.observe("llm_seconds", seconds, outcome="ok")
        self.metrics.count("llm_tokens", completion.prompt_tokens, kind="prompt")
        self.metrics.count("llm_tokens", completion.completion_tokens, kind="completion")
        return replace(completion, seconds=seconds)


class Retrying:
    """An LLM whose transient failures are retried with backoff and jitter, honouring Retry-After (bot.retry)."""

    def __init__(self, llm: LLM, retries: int) -> None:
        self.llm = llm
        self.retries = retries

    def complete(self, messages: Messages, options: dict[str, Any] | None = None, deadline: float | None = None) -> Completion:
        """The wrapped LLM's answer, tried up to `retries` more times, none ending past `deadline` (time.monotonic())."""
        return with_retries(lambda: self.llm.complete(messages, options), self.retries, "LLM call", deadline=deadline)


def build(config: Config, metrics: Metrics) -> Retrying:
    """The configured LLM, measured and retried (OPENAI_MAX_RETRIES): OpenAI or the server at OPENAI_BASE_URL, else the
    offline stand-in."""
    return Retrying(Measured(OfflineModel() if config.offline else OpenAIChat(config), metrics), config.openai_max_retries)
