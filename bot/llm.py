"""The LLM: OpenAI's chat completions (or any compatible server), and an offline stand-in; either may call tools.

A conversation travels in chat completions' form (system, user, assistant and tool messages); the Responses API
(bot.responses) translates it to its own items and back.
"""

from __future__ import annotations

import json
import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Protocol, Sequence

import openai
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from bot.config import Config, ConfigError
from bot.errors import BotError, Permanent, Transient
from bot.media import parts
from bot.messages import valid_unicode
from bot.ops.metrics import Metrics
from bot.parameters import CAPS, Parameters, first_cap
from bot.retry import retry_after, with_retries

logger = logging.getLogger(__name__)

Messages = list[dict[str, Any]]  # content: text, or content parts (bot.media.parts)
Tools = Sequence[dict[str, Any]]  # the functions the model may call, as chat completions defines them
OnText = Callable[[str], None]  # told the reply's text so far, each time the model writes more: a streamed call
OFFLINE_WORD_SECONDS = 0.05  # the offline model's pace when streamed: slow enough to see the chat page write
KEYLESS = "none"  # the key sent to a server at OPENAI_BASE_URL when OPENAI_API_KEY is empty


@dataclass(frozen=True)
class ToolCall:
    """A function the model asks for: its own id for the call, the function's name, the arguments as JSON text."""

    id: str
    name: str
    arguments: str

    def wire(self) -> dict[str, Any]:
        """As an assistant message of chat completions lists it."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True)
class Completion:
    """The LLM's reply and what it cost; or the tools it asks to call first."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # how long the call took, retries not included
    calls: tuple[ToolCall, ...] = ()  # the tools to call before the model answers
    message: dict[str, Any] | None = None  # with calls: the assistant's message, for the conversation to go on from


class LLM(Protocol):
    """Anything that turns a chat history into the assistant's next message."""

    def complete(self, messages: Messages, options: dict[str, Any] | None = None, tools: Tools = (),
                 tool_choice: str = "auto", on_text: OnText | None = None) -> Completion:
        """Answer, or raise Transient / Permanent; `options` are a prompt's model, max_tokens and sampling settings,
        `tools` what it may call ("none" for `tool_choice` once it must answer); with `on_text`, streamed."""
        ...


class OpenAIChat:
    """Chat completions through the openai SDK, in the form each model takes (bot.parameters)."""

    path, answer_type, chunk_type = "/chat/completions", ChatCompletion, ChatCompletionChunk
    # the last chunk then carries the usage, which the daily token budget counts
    stream_fields: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}

    def __init__(self, config: Config) -> None:
        self.model = config.openai_model
        self.max_tokens = config.openai_max_tokens
        self.defaults = {"reasoning_effort": config.openai_reasoning_effort}
        self.parameters = Parameters(first_cap(config.openai_base_url, config.openai_max_tokens_parameter))
        self.client = client(config)

    def complete(self, messages: Messages, options: dict[str, Any] | None = None, tools: Tools = (),
                 tool_choice: str = "auto", on_text: OnText | None = None) -> Completion:
        """One chat completion, with the SDK's errors mapped onto Transient and Permanent; images, if refused, as a note."""
        try:
            return self._complete(messages, options, tools, tool_choice, on_text)
        except Permanent as error:
            if error.kind != "invalid_request" or not parts.has_images(messages):
                raise
            logger.warning("LLM refused a request holding an image (%s): asked again with a note in its place. "
                           "Use a vision model, or set VISION=0.", error)
            return self._complete(parts.without_images(messages), options, tools, tool_choice, on_text)

    def _complete(self, messages: Messages, options: dict[str, Any] | None, tools: Tools, tool_choice: str,
                  on_text: OnText | None) -> Completion:
        settings = {**self.defaults, **(options or {})}
        model, cap = settings.pop("model", self.model), int(settings.pop("max_tokens", self.max_tokens))
        while True:  # each refusal learned renames or leaves out one of a handful of parameters, so this ends
            body = self.parameters.body(model, settings, cap)
            response = self._post(model, body, self.request(body, messages, tools, tool_choice), on_text)
            if response is not None:
                return self.completion(body, response)

    def request(self, body: dict[str, Any], messages: Messages, tools: Tools, tool_choice: str) -> dict[str, Any]:
        """The JSON to post: the parameters, the messages, and the tools the model may call."""
        request = {**body, "messages": [_chat_message(message) for message in messages]}
        if tools:
            request["tools"] = list(tools)
            if tool_choice != "auto":  # the default with tools; some servers take only that one
                request["tool_choice"] = tool_choice
        return request

    def _post(self, model: str, body: dict[str, Any], request: dict[str, Any], on_text: OnText | None) -> Any:
        """The server's answer; None when it refused a parameter that may be renamed or left out (learned for next time)."""
        with _mapped():
            try:
                # client.post, not chat.completions.create: the body is plain JSON already, and create's walk over
                # every message checking it against the SDK's types cost a third of a turn's CPU (bench/e2e.py)
                if on_text is None:
                    return self.client.post(self.path, body=request, cast_to=self.answer_type)
                with self.client.post(self.path, body={**request, **self.stream_fields}, cast_to=self.answer_type,
                                      stream=True, stream_cls=openai.Stream[self.chunk_type]) as stream:
                    return self.gathered(stream, on_text)
            except openai.BadRequestError as error:
                if not self.parameters.learn(model, body, error):
                    raise
        return None  # made again at once: a refused parameter is not a failure

    def gathered(self, stream: openai.Stream[Any], on_text: OnText) -> Any:
        """The streamed chunks gathered into one answer, `on_text` told the text so far as it grows."""
        state, text, finished = ChatCompletionStreamState(), "", False
        for chunk in stream:
            state.handle_chunk(chunk)
            finished = finished or any(choice.finish_reason for choice in chunk.choices)
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                text += delta
                on_text(text)
        if not finished:  # a body that ended cleanly halfway: its text is cut, never a reply
            raise Transient("LLM stream ended before the model finished its answer", kind="server")
        return state.current_completion_snapshot  # not get_final_completion(), which raises at finish_reason "length"

    def completion(self, body: dict[str, Any], response: ChatCompletion) -> Completion:
        """The reply, or the tools the model asks for; an empty reply cut at the cap is an error."""
        choice, usage = response.choices[0], response.usage
        text = valid_unicode(choice.message.content or "")  # a lone surrogate escaped in JSON would fail every write of it
        calls = tuple(ToolCall(call.id, call.function.name, call.function.arguments or "{}")
                      for call in choice.message.tool_calls or () if getattr(call, "function", None))
        if not text.strip() and not calls and choice.finish_reason == "length":
            raise _cut_off(body, usage.completion_tokens_details if usage else None)
        message = {"role": "assistant", "content": valid_unicode(choice.message.content),
                   "tool_calls": [call.wire() for call in calls]}
        return Completion(text, usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0,
                          calls=calls, message=message if calls else None)


def _chat_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message as chat completions takes it: without the Responses API's own items, which it keeps for itself."""
    return {key: value for key, value in message.items() if key != "items"} if "items" in message else message


def _cut_off(body: dict[str, Any], details: Any) -> Permanent:
    """An empty reply that stopped at the cap: a reasoning model spent it all on reasoning (`details` may count it)."""
    cap = next(body[name] for name in CAPS if name in body)
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
    except openai.APIError as error:  # an error event in the middle of a stream
        raise Transient(f"LLM stream failed: {error}", kind="server") from error


def transcribe(config: Config, file: tuple[str, bytes, str]) -> tuple[str, int]:
    """The words of an audio file (name, bytes, type) and the tokens they cost, through POST /audio/transcriptions."""
    with _mapped(), client(config) as api:
        result = api.audio.transcriptions.create(model=config.openai_transcribe_model, file=file)
    usage = getattr(result, "usage", None)
    return valid_unicode(result.text), int(getattr(usage, "total_tokens", 0) or 0)


def model_ids(config: Config) -> list[str]:
    """The models the configured server offers (GET /models); raises Transient or Permanent."""
    with _mapped():
        return [model.id for model in client(config).models.list()]


def client(config: Config) -> openai.OpenAI:
    """The SDK's client for the configured server; its own retries are off, bot.retry does them."""
    # Keyless servers (Ollama, llama.cpp, vLLM) ignore the key, but the SDK will not start without one.
    sdk = openai.OpenAI(api_key=config.openai_api_key or KEYLESS, base_url=config.openai_base_url or None,
                        timeout=config.openai_timeout, max_retries=0)
    # The SDK learns the platform for its headers on the first request, once per process, by running `uname -p`.
    # Run by a worker's first turns on their threads while the RQ scheduler process was forked, the fork inherited
    # that subprocess's pipe, and the turns waited on it for ever. Here it runs at start, before any thread or fork.
    sdk.platform_headers()
    return sdk


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
    """A development stand-in used when neither OPENAI_API_KEY nor OPENAI_BASE_URL is set: it says what it is and echoes,
    and calls a tool when asked to in the form `/tool lookup_order order=1042`."""

    def complete(self, messages: Messages, options: dict[str, Any] | None = None, tools: Tools = (),
                 tool_choice: str = "auto", on_text: OnText | None = None) -> Completion:
        """Echo the user's latest messages (saying what media they held), or the tools' results; or call the tool they
        ask for. Streamed, it writes its echo word by word, as a model would."""
        if messages[-1]["role"] == "tool":
            return _written("(offline model) the tool said: " + " / ".join(_latest(messages, "tool")), on_text)
        latest = _latest(messages, "user")
        call = _asked_for(latest[-1] if latest else "", tools) if tool_choice != "none" else None
        if isinstance(call, ToolCall):
            return Completion("", calls=(call,), message={"role": "assistant", "content": None, "tool_calls": [call.wire()]})
        return _written(call or "(offline model) you said: " + " / ".join(latest), on_text)


def _written(text: str, on_text: OnText | None) -> Completion:
    """The offline model's reply, told word by word to `on_text` if there is one."""
    if on_text is not None:
        words = re.findall(r"\S+\s*", text)
        for count in range(1, len(words) + 1):
            time.sleep(OFFLINE_WORD_SECONDS)
            on_text("".join(words[:count]))
    return Completion(text)


def _latest(messages: Messages, role: str) -> list[str]:
    """The contents of the newest messages in `role`, oldest first (media described in words)."""
    latest = []
    for message in reversed(messages):
        if message["role"] != role:
            break
        latest.insert(0, parts.described(message["content"]))
    return latest


def _asked_for(text: str, tools: Tools) -> ToolCall | str | None:
    """The call `/tool name key=value ...` asks for (each value one word); what is wrong with it, if it names no
    offered tool; else None."""
    words = text.split()
    if len(words) < 2 or words[0] != "/tool":
        return None
    offered = [tool["function"]["name"] for tool in tools]
    if words[1] not in offered:
        return f"(offline model) this prompt enables no tool {words[1]}: it enables {', '.join(offered) or 'none'}"
    arguments = dict(word.split("=", 1) for word in words[2:] if "=" in word)
    return ToolCall(f"offline-{len(text)}", words[1], json.dumps(arguments))


class Measured:
    """An LLM whose every call shows in the metrics: latency, tokens, and errors by kind."""

    def __init__(self, llm: LLM, metrics: Metrics) -> None:
        self.llm = llm
        self.metrics = metrics

    def complete(self, messages: Messages, options: dict[str, Any] | None = None, tools: Tools = (),
                 tool_choice: str = "auto", on_text: OnText | None = None) -> Completion:
        """The wrapped LLM's answer, timed and counted."""
        started = time.monotonic()
        try:
            completion = self.llm.complete(messages, options, tools, tool_choice, on_text)
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

    def complete(self, messages: Messages, options: dict[str, Any] | None = None, tools: Tools = (), tool_choice: str = "auto",
                 on_text: OnText | None = None, deadline: float | None = None) -> Completion:
        """The wrapped LLM's answer, tried up to `retries` more times, none ending past `deadline` (time.monotonic()); a
        streamed try that fails is told again from its start."""
        return with_retries(lambda: self.llm.complete(messages, options, tools, tool_choice, on_text), self.retries, "LLM call",
                            deadline=deadline)


def build(config: Config, metrics: Metrics) -> Retrying:
    """The configured LLM, measured and retried (OPENAI_MAX_RETRIES): OpenAI or the server at OPENAI_BASE_URL (OPENAI_API
    picks chat completions or the Responses API), else the offline stand-in."""
    if config.openai_api not in ("chat", "responses"):
        raise ConfigError(f"OPENAI_API must be chat or responses, got {config.openai_api!r}: fix it in the environment.")
    if config.offline:
        return Retrying(Measured(OfflineModel(), metrics), config.openai_max_retries)
    from bot.responses import OpenAIResponses  # which builds on this module's chat client

    chosen = OpenAIResponses(config) if config.openai_api == "responses" else OpenAIChat(config)
    return Retrying(Measured(chosen, metrics), config.openai_max_retries)
