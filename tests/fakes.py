"""Local HTTP servers that stand in for the network edge: the OpenAI API and the Telegram Bot API.

They speak the real wire protocols, errors included, record every request, and answer from
a script of canned responses when a test sets one.
"""

from __future__ import annotations

import contextlib
import email.policy
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs

from tests import streams, tdlib


@dataclass(frozen=True)
class Call:
    """One request the fake received: its path (with the query), parsed body, headers and HTTP verb."""

    path: str
    body: Any
    headers: dict[str, str]
    raw: bytes = b""
    verb: str = "POST"
    peer: int = 0  # the client's port: which process sent it

    @property
    def method(self) -> str:
        """The last path segment, without the query: a platform API's method name."""
        return self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


@dataclass
class Canned:
    """One scripted answer: status, JSON body (or `raw` bytes, as a proxy's error page), headers, and a delay before answering."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None  # sent instead of the JSON body, as text/html
    content_type: str = "text/html"  # of `raw`: a file a platform serves
    events: list[bytes] | None = None  # sent instead of the body, as server-sent events, `pace` seconds apart
    pace: float = 0.0
    midway: threading.Event | None = None  # the events' second half waits until it is set
    open_ended: bool = False  # `raw` sent with no Content-Length, then the connection held open: a body whose end never comes


class FakeServer:
    """A threaded HTTP server on a free loopback port; subclasses implement `respond`."""

    def __init__(self) -> None:
        self.requests: list[Call] = []
        self.delivered: list[Call] = []  # the requests answered with success
        self.script: deque[Canned] = deque()
        self.gate = threading.Event()  # cleared by a test to hold the calls `hold` picks until it is set again
        self.gate.set()
        self.hold: Callable[[Call], bool] = lambda call: False
        self.fault: Callable[[Call], Canned | None] = lambda call: None  # injected failures, before any other answer
        self.lock = threading.Lock()
        self.stopped = threading.Event()  # releases the connections open-ended answers hold
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()

    def then(self, *answers: Canned) -> None:
        """Answer the next requests with these, in order, before going back to the default."""
        with self.lock:
            self.script.extend(answers)

    def next_canned(self) -> Canned | None:
        with self.lock:
            return self.script.popleft() if self.script else None

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        """Wait until `predicate` holds, failing the test if it never does."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; requests so far: {self.requests}")
            time.sleep(0.02)

    def calls(self, method: str) -> list[Any]:
        """The bodies of every request to `method` (the path's last segment), in order."""
        return [call.body for call in self.requests if call.method == method]

    def respond(self, call: Call) -> Canned:
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                call = Call(self.path, _parse(raw, self.headers.get("Content-Type", "")), dict(self.headers), raw, self.command,
                            self.client_address[1])
                with fake.lock:
                    fake.requests.append(call)
                if fake.hold(call):
                    fake.gate.wait(30)
                answer = fake.fault(call) or fake.respond(call)
                if answer.status < 300:
                    with fake.lock:
                        fake.delivered.append(call)
                time.sleep(answer.delay)
                if answer.events is not None:
                    return self._stream(answer)
                data = json.dumps(answer.body).encode() if answer.raw is None else answer.raw
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json" if answer.raw is None else answer.content_type)
                if not answer.open_ended:
                    self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as a timed-out one does
                    self.wfile.write(data)
                    self.wfile.flush()
                if answer.open_ended:
                    fake.stopped.wait(30)

            def _stream(self, answer: Canned) -> None:
                """The events, each flushed when written, the end of the body marked by closing the connection."""
                self.send_response(answer.status)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")  # the body ends when the connection does, kept alive or not
                self.end_headers()
                self.close_connection = True
                events = answer.events or []
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    for number, event in enumerate(events):
                        if number == len(events) // 2 and answer.midway is not None:
                            answer.midway.wait(30)
                        self.wfile.write(event)
                        self.wfile.flush()
                        time.sleep(answer.pace)

            do_GET = do_PUT = do_DELETE = do_POST  # platform APIs that read, replace and remove settings

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _parse(raw: bytes, content_type: str) -> Any:
    if not raw:
        return {}
    if content_type.startswith("multipart/form-data"):
        return multipart(raw, content_type)
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {name: values[0] for name, values in parse_qs(raw.decode()).items()}
    return json.loads(raw)


def multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    """A multipart/form-data body's fields: text as str, files as (filename, bytes, content type)."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name, data = part.get_param("name", header="content-disposition"), part.get_payload(decode=True)
        filename = part.get_filename()
        fields[name] = (filename, data, part.get_content_type()) if filename else data.decode()
    return fields


# The request fields of an older OpenAI-compatible server: vLLM answered 400 `extra_forbidden` to any other field
LEGACY_FIELDS = {"model", "messages", "max_tokens", "temperature", "top_p", "n", "stop", "stream", "stream_options", "seed",
                 "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "user", "tools",
                 "tool_choice", "response_format"}


class FakeOpenAI(FakeServer):
    """POST /v1/chat/completions, POST /v1/responses and GET /v1/models. By default it answers "LLM: " plus the user's
    latest messages (or the tools' latest results), and takes any field (as llama.cpp does, ignoring those it does not
    know). Tests script tool calls with `tool_calls` (chat completions) and `function_calls` (Responses).

    `style` "current" answers as OpenAI's gpt-5 family: 400 to `max_tokens` and to a temperature other than 1, and
    `reasoning_cost` tokens of reasoning before any reply, so a smaller `max_completion_tokens` gets an empty reply
    cut at the cap. `style` "legacy" answers as an older OpenAI-compatible server (vLLM before it allowed extra fields):
    400 to any field it does not know, `max_completion_tokens`, `reasoning_effort` and `verbosity` among them.
    """

    def __init__(self, style: str = "") -> None:
        super().__init__()
        self.style = style
        self.reasoning_cost = 1500  # in the "current" style: the tokens every answer spends reasoning first
        self.models = ["test-model", "gpt-5.4-mini"]  # what GET /models lists
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.answer_after: Callable[[], Any] = lambda: True  # each answer waits until this holds, as a real LLM takes seconds
        self.vision = True  # False: 400 to an image part, as a text-only model answers
        self.transcript = "where is my parcel"  # what POST /audio/transcriptions hears in any audio
        self.transcribe_gate = threading.Event()  # cleared by a test to hold transcriptions until it is set again
        self.transcribe_gate.set()
        self.token_seconds = 0.0  # a streamed answer's pace: seconds between its chunks
        self.midway = threading.Event()  # cleared by a test to hold streamed answers halfway until it is set again
        self.midway.set()

    @property
    def transcriptions(self) -> list[dict]:
        """The multipart fields of each transcription request: `file` as (filename, bytes, content type)."""
        return self.calls("transcriptions")

    @property
    def images(self) -> list[dict]:
        """Every image part the chat completions (or the Responses API, its input_image as chat's image_url) received."""
        return [part for body in self.completions + self.responses for message in body["messages"]
                if isinstance(message["content"], list) for part in message["content"] if part["type"] == "image_url"]

    @property
    def completions(self) -> list[dict]:
        return self.calls("completions")

    @property
    def responses(self) -> list[dict]:
        """The Responses API requests, each with `messages`: its input as chat messages (as `completions` have them)."""
        return [{**body, "messages": chat_messages(body["input"])} for body in self.calls("responses")]

    def respond(self, call: Call) -> Canned:
        if call.method == "models":
            return Canned(body={"object": "list", "data": [{"id": name, "object": "model", "created": 1767225600,
                                                            "owned_by": "system"} for name in self.models]})
        if call.method == "transcriptions":
            return self._transcription(call.body)
        if call.method == "responses" and (refusal := _foreign_parts(call.body["input"])):
            return refusal
        payload = call.body if call.method == "completions" else {**call.body, "messages": chat_messages(call.body["input"])}
        key = _text(payload["messages"][-1]["content"])
        self._track(key, +1)
        try:
            self.gate.wait(30)  # every completion waits while a test holds the gate
            self.wait_for(self.answer_after)
            answer = self.next_canned() or self._refusal(payload) or self._answer(payload)
            answer = answer if call.method == "completions" else as_response(answer)
            return self._streamed(answer, call.method, payload) if payload.get("stream") else answer
        finally:
            self._track(key, -1)

    def _streamed(self, answer: Canned, method: str, payload: dict) -> Canned:
        """The answer as the server streams it; an error is answered whole, before any event, as OpenAI does."""
        if answer.status >= 300:
            return answer
        usage = bool((payload.get("stream_options") or {}).get("include_usage"))
        events = streams.chat_events(answer.body, usage) if method == "completions" else streams.response_events(answer.body)
        return Canned(events=events, pace=self.token_seconds, delay=answer.delay, midway=self.midway)

    def _transcription(self, fields: dict) -> Canned:
        """OpenAI's answer: 400 to a format it does not list (Telegram's .oga among them), else the text and its usage."""
        self.transcribe_gate.wait(30)
        canned = self.next_canned()
        if canned:
            return canned
        extension = fields["file"][0].rsplit(".", 1)[-1]
        if extension not in TRANSCRIBED:
            return openai_refusal("file", "unsupported_value", f"Unsupported file format {extension}")
        return Canned(body={"text": self.transcript, "usage": {"type": "tokens", "input_tokens": 40, "output_tokens": 6,
                                                               "total_tokens": 46}})

    def _refusal(self, payload: dict) -> Canned | None:
        if not self.vision and any(isinstance(message["content"], list)
                                   and any(part["type"] == "image_url" for part in message["content"])
                                   for message in payload["messages"]):
            return openai_refusal("messages", "invalid_value",
                                  "Invalid content type. image_url is only supported by certain models.")
        if self.style == "current" and "max_tokens" in payload:
            return openai_refusal("max_tokens", "unsupported_parameter", "Unsupported parameter: 'max_tokens' is not "
                                  "supported with this model. Use 'max_completion_tokens' instead.")
        if self.style == "current" and payload.get("temperature", 1) != 1:
            return openai_refusal("temperature", "unsupported_value", f"Unsupported value: 'temperature' does not support "
                                  f"{payload['temperature']} with this model. Only the default (1) value is supported.")
        unknown = [name for name in payload if name not in LEGACY_FIELDS] if self.style == "legacy" else []
        return vllm_extra_forbidden(unknown, payload) if unknown else None

    def _answer(self, payload: dict) -> Canned:
        text = self.default_text(payload["messages"])
        if self.style != "current":
            return Canned(body=completion(text))
        cap = payload.get("max_completion_tokens", payload.get("max_output_tokens", 128_000))
        if cap <= self.reasoning_cost:
            return Canned(body=completion("", finish_reason="length", completion_tokens=cap, reasoning_tokens=cap))
        return Canned(body=completion(text, completion_tokens=self.reasoning_cost + 5, reasoning_tokens=self.reasoning_cost))

    def _track(self, key: str, step: int) -> None:
        conversation = key.split(" ", 1)[0]  # tests start each message with its conversation's tag
        with self.lock:
            self.in_flight[conversation] = self.in_flight.get(conversation, 0) + step
            self.max_in_flight[conversation] = max(self.max_in_flight.get(conversation, 0), self.in_flight[conversation])

    @staticmethod
    def default_text(messages: list[dict]) -> str:
        latest, role = [], messages[-1]["role"]
        for message in reversed(messages):
            if message["role"] != role:
                break
            latest.insert(0, _text(message["content"]))
        return "LLM: " + " + ".join(latest)


TRANSCRIBED = {"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"}  # the formats the endpoint lists


def _text(content: str | list[dict]) -> str:
    """A message's content as text; an image part as its type and size."""
    if isinstance(content, str):
        return content
    return " ".join(part["text"] if part["type"] == "text" else f"[image {len(part['image_url']['url'])} chars]"
                    for part in content)


def completion(text: str, finish_reason: str = "stop", completion_tokens: int = 5, reasoning_tokens: int = 0) -> dict:
    """An OpenAI chat completion response body."""
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": completion_tokens, "total_tokens": 10 + completion_tokens,
                  "completion_tokens_details": {"reasoning_tokens": reasoning_tokens}},
    }


def tool_calls(*calls: tuple[str, dict], text: str | None = None) -> Canned:
    """A chat completion that asks for these (name, arguments) calls, in one round."""
    body = completion(text or "", finish_reason="tool_calls")
    body["choices"][0]["message"].update(content=text, tool_calls=[
        {"id": f"call_{uuid.uuid4().hex[:8]}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
        for name, arguments in calls])
    return Canned(body=body)


def function_calls(*calls: tuple[str, dict], reasoning: bool = True) -> Canned:
    """A Responses API answer that asks for these (name, arguments) calls, after a reasoning item."""
    items = [{"type": "reasoning", "id": f"rs_{uuid.uuid4().hex[:8]}", "summary": []}] if reasoning else []
    items += [{"type": "function_call", "id": f"fc_{n}", "call_id": f"call_{uuid.uuid4().hex[:8]}", "name": name,
               "arguments": json.dumps(arguments), "status": "completed"} for n, (name, arguments) in enumerate(calls)]
    return Canned(body=response(items))


def response(output: list[dict], status: str = "completed", input_tokens: int = 10, output_tokens: int = 5) -> dict:
    """An OpenAI Responses API response body."""
    return {"id": f"resp_{uuid.uuid4().hex[:8]}", "object": "response", "created_at": int(time.time()), "model": "test-model",
            "status": status, "output": output, "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens,
                      "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}}


def as_response(answer: Canned) -> Canned:
    """A scripted or default chat completion answer, as the Responses API gives the same reply (errors pass as they are)."""
    body = answer.body or {}
    if answer.status >= 300 or body.get("object") != "chat.completion":
        return answer
    choice, usage = body["choices"][0], body["usage"]
    message = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": choice["message"]["content"], "annotations": []}]}
    incomplete = choice["finish_reason"] == "length"
    reply = response([message] if choice["message"]["content"] else [], "incomplete" if incomplete else "completed",
                     usage["prompt_tokens"], usage["completion_tokens"])
    reply["usage"]["output_tokens_details"] = {"reasoning_tokens": usage["completion_tokens_details"]["reasoning_tokens"]}
    if incomplete:
        reply["incomplete_details"] = {"reason": "max_output_tokens"}
    return Canned(body=reply)


def chat_messages(items: list[dict] | str) -> list[dict]:
    """Responses API input items as the chat messages they stand for (reasoning items left out)."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    messages = []
    for item in items:
        if item.get("type") == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]})
        elif item.get("type") == "function_call":
            messages.append({"role": "assistant", "content": None, "tool_calls": [item]})
        elif "role" in item:
            messages.append({"role": item["role"], "content": _chat_content(item["content"])})
    return messages


# The content part types a Responses API input message takes (OpenAI's 400 lists them)
INPUT_PARTS = ("input_text", "input_image", "output_text", "refusal", "input_file", "computer_screenshot", "summary_text")


def _foreign_parts(items: list[dict] | str) -> Canned | None:
    """OpenAI's 400 to a content part the Responses API does not take (chat completions' text and image_url among them)."""
    for n, item in enumerate(items if isinstance(items, list) else []):
        for m, part in enumerate(item.get("content") if isinstance(item.get("content"), list) else []):
            kind = part.get("type")
            if kind not in INPUT_PARTS or (kind == "input_image" and not isinstance(part.get("image_url"), str)):
                return openai_refusal(f"input[{n}].content[{m}]", "invalid_value", f"Invalid value: {kind!r}. "
                                      f"Supported values are: {', '.join(repr(name) for name in INPUT_PARTS)}.")
    return None


def _chat_content(content: str | list[dict]) -> str | list[dict]:
    """A Responses message's content parts as chat completions' text and image_url parts."""
    if isinstance(content, str):
        return content
    return [{"type": "image_url", "image_url": {"url": part["image_url"]}} if part["type"] == "input_image"
            else {"type": "text", "text": part.get("text", "")} for part in content]


def openai_error(status: int, message: str, code: str | None = None, retry_after: str | None = None) -> Canned:
    """An OpenAI API error response."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = {"error": {"message": message, "type": code or "api_error", "param": None, "code": code}}
    return Canned(status=status, body=body, headers=headers)


def openai_refusal(param: str, code: str, message: str) -> Canned:
    """OpenAI's 400 to a parameter the model does not take."""
    return Canned(status=400, body={"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})


def vllm_extra_forbidden(names: list[str], payload: dict) -> Canned:
    """vLLM's 400 to fields it does not know: pydantic's errors, as text, in vLLM's own envelope."""
    errors = [{"type": "extra_forbidden", "loc": ("body", name), "msg": "Extra inputs are not permitted", "input": payload[name]}
              for name in names]
    return Canned(status=400, body={"object": "error", "message": str(errors), "type": "BadRequestError", "param": None,
                                    "code": 400})


class FakeTelegram(FakeServer):
    """POST /bot<token>/<method>, recording calls; sendMessage returns a message like the real API.

    Every sendMessage is judged as Telegram judges it: its HTML parsed by TDLib, its parsed text held to 4096
    UTF-16 units. The bot falls back to plain text when its HTML is refused, which would hide a rendering
    bug, so each refusal no test scripted is also kept in `refused`, for `check`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[tuple[str, str]] = []  # (Telegram's description, the text) of each part it would refuse
        self.files: dict[str, bytes] = {}  # by file_id: what getFile and /file/bot<token>/ serve

    @property
    def sent(self) -> list[dict]:
        return self.calls("sendMessage")

    @property
    def drafts(self) -> list[dict]:
        """Every sendMessageDraft: the previews of replies being written."""
        return self.calls("sendMessageDraft")

    def respond(self, call: Call) -> Canned:
        method, payload = call.method, call.body
        if call.path.startswith("/file/bot"):
            return self._file(call.path.rsplit("/", 1)[-1].split(".", 1)[0])
        canned = self.next_canned() if method not in ANY_TIME else None  # typing calls and drafts come at any time
        if canned is not None:
            return canned
        if method in ("sendMessage", "sendMessageDraft"):
            return self._send_message(payload, draft=method == "sendMessageDraft")
        if method == "getFile":
            return self._get_file(payload["file_id"])
        if method == "getWebhookInfo":
            return Canned(body={"ok": True, "result": {"url": "", "pending_update_count": 0}})
        return Canned(body={"ok": True, "result": True})

    def _get_file(self, file_id: str) -> Canned:
        """A File with its path; over 20 MB, Telegram's refusal."""
        if file_id not in self.files:
            return telegram_error(400, "Bad Request: invalid file_id")
        if len(self.files[file_id]) > 20 * 1024 * 1024:
            return telegram_error(400, "Bad Request: file is too big")
        return Canned(body={"ok": True, "result": {"file_id": file_id, "file_unique_id": f"u{file_id}",
                                                   "file_size": len(self.files[file_id]), "file_path": f"voice/{file_id}.oga"}})

    def _file(self, file_id: str) -> Canned:
        if file_id not in self.files:
            return Canned(status=404, raw=b"Not Found", content_type="text/plain")
        return Canned(raw=self.files[file_id], content_type="application/octet-stream")

    def _send_message(self, payload: dict, draft: bool = False) -> Canned:
        text = payload.get("text", "")
        problem = tdlib.refusal(text, payload.get("parse_mode"), empty=draft)
        if problem:
            with self.lock:
                self.refused.append((problem, text))
            return telegram_error(400, problem)
        if draft:
            return Canned(body={"ok": True, "result": True})
        result = {"message_id": len(self.sent), "chat": {"id": payload.get("chat_id")}, "text": text}
        return Canned(body={"ok": True, "result": result})

    def check(self) -> None:
        """Fail if Telegram would have refused any part a test did not script it to refuse."""
        if self.refused:
            refused = "\n".join(f"{why}: {text!r}" for why, text in self.refused)
            raise AssertionError("Telegram would refuse these parts:\n" + refused)


ANY_TIME = ("sendChatAction", "sendMessageDraft")  # the calls a scripted answer is never meant for


def telegram_error(code: int, description: str, retry_after: int | None = None) -> Canned:
    """A Bot API error response."""
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return Canned(status=code, body=body)


def graph_media(server: FakeServer, files: dict[str, bytes], prefix: str = "") -> dict[str, Callable[[Call], Canned]]:
    """FakePlatform defaults serving WhatsApp's media download: GET /<media id> gives the URL (under `prefix`), which
    gives the file; both only with a bearer token, as Meta's do; an unknown id is Graph's 404."""
    def lookup(media_id: str) -> Callable[[Call], Canned]:
        return lambda call: _bearer(call) or Canned(body={"messaging_product": "whatsapp", "id": media_id,
                                                          "file_size": len(files[media_id]),
                                                          "url": f"{server.url}{prefix}/files/{media_id}.bin"})

    def serve(media_id: str) -> Callable[[Call], Canned]:
        return lambda call: _bearer(call) or Canned(raw=files[media_id], content_type="application/octet-stream")
    return {**{media_id: lookup(media_id) for media_id in files}, **{f"{media_id}.bin": serve(media_id) for media_id in files}}


def line_content(files: dict[str, bytes]) -> dict[str, Callable[[Call], Canned]]:
    """FakePlatform defaults serving LINE's GET /v2/bot/message/{id}/content, with the channel token; else LINE's 404."""
    def content(call: Call) -> Canned:
        message_id = call.path.split("?", 1)[0].rsplit("/", 2)[-2]
        if message_id not in files:
            return Canned(status=404, body={"message": "Not found"})
        return _bearer(call) or Canned(raw=files[message_id], content_type="application/octet-stream")
    return {"content": content}


def _bearer(call: Call) -> Canned | None:
    if not call.headers.get("Authorization", "").startswith("Bearer "):
        return Canned(status=401, body={"error": {"message": "no token", "type": "OAuthException", "code": 190}})
    return None


class FakePlatform(FakeServer):
    """Any chat platform's API: each method answers its canned default unless a test scripted otherwise.

    `scripted` says which calls take the scripted answers: sends, say, but not typing indicators,
    which come at any time.
    """

    def __init__(self, defaults: dict[str, Canned | Callable[[Call], Canned]] | None = None,
                 scripted: Callable[[Call], bool] = lambda call: True) -> None:
        super().__init__()
        self.defaults = defaults or {}
        self.scripted = scripted

    def respond(self, call: Call) -> Canned:
        canned = self.next_canned() if self.scripted(call) else None
        answer = canned or self.defaults.get(call.method, Canned(body={}))
        return answer(call) if callable(answer) else answer  # a default may answer from what the fake was sent
