"""OpenAI's streamed answers, as its server writes them: server-sent events, one per chunk of the reply.

A canned chat completion (or Responses answer) becomes the events that stream the same reply: the text word by word,
the tool calls in fragments, then the end (and, when asked for, the usage).
"""

from __future__ import annotations

import json
import re
from typing import Any


def chat_events(body: dict[str, Any], usage: bool) -> list[bytes]:
    """A chat completion as `chat.completion.chunk` events, ended by [DONE]."""
    choice = body["choices"][0]
    message = choice["message"]
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": word} for word in words(message.get("content") or "")]
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call["function"]
        half = len(function["arguments"]) // 2  # in two fragments, the id and name in the first only
        deltas.append({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                       "function": {"name": function["name"], "arguments": function["arguments"][:half]}}]})
        deltas.append({"tool_calls": [{"index": index, "function": {"arguments": function["arguments"][half:]}}]})
    chunks = [_chunk(body, [{"index": 0, "delta": delta, "finish_reason": None}]) for delta in deltas]
    chunks.append(_chunk(body, [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]))
    if usage:
        chunks.append({**_chunk(body, []), "usage": body["usage"]})
    return [_event(chunk) for chunk in chunks] + [b"data: [DONE]\n\n"]


def response_events(body: dict[str, Any]) -> list[bytes]:
    """A Responses API answer as its events: created, the text deltas, then completed (or incomplete)."""
    events: list[dict[str, Any]] = [{"type": "response.created", "response": {**body, "status": "in_progress", "output": []}}]
    for index, item in enumerate(body["output"]):
        if item["type"] == "message":
            text = "".join(part.get("text", "") for part in item["content"])
            events += [{"type": "response.output_text.delta", "item_id": item["id"], "output_index": index, "content_index": 0,
                        "delta": word, "logprobs": []} for word in words(text)]
    events.append({"type": f"response.{body['status']}", "response": body})
    return [_event({**event, "sequence_number": number}, event["type"]) for number, event in enumerate(events)]


def words(text: str) -> list[str]:
    """The text in the pieces a model streams: each word with the spaces after it."""
    return re.findall(r"\S+\s*|\s+", text)


def _chunk(body: dict[str, Any], choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"], "model": body["model"],
            "choices": choices}


def _event(data: dict[str, Any], name: str = "") -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()
