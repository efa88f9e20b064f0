"""OpenAI's Responses API (OPENAI_API=responses): the chat client's conversation, sent as Responses items.

Function calls come back as output items; a round's items are sent back as they came (a reasoning model's reasoning
among them, so it carries across tool rounds), each followed by the `function_call_output` that answers it. A photo's
image part goes as an `input_image` holding the same data URL.
"""

from __future__ import annotations

from typing import Any, Iterator

from openai.types.responses import Response

from bot.llm import Completion, Messages, OpenAIChat, ToolCall, Tools, _cut_off
from bot.messages import valid_unicode
from bot.parameters import CAPS


class OpenAIResponses(OpenAIChat):
    """The chat client's parameters and retries, over POST /responses."""

    path, answer_type = "/responses", Response

    def request(self, body: dict[str, Any], messages: Messages, tools: Tools, tool_choice: str) -> dict[str, Any]:
        """The JSON to post: the parameters under their Responses names, the conversation as items, flat tools."""
        request = _renamed(body)
        request["input"] = [item for message in messages for item in _items(message)]
        if tools:
            request["tools"] = [{"type": "function", **tool["function"]} for tool in tools]
            if tool_choice != "auto":
                request["tool_choice"] = tool_choice
        return request

    def completion(self, body: dict[str, Any], response: Response) -> Completion:
        """The reply, or the function calls the model asks for; an empty reply cut at the cap is an error."""
        text, usage = valid_unicode(response.output_text), response.usage  # a lone surrogate would fail every write of it
        calls = tuple(ToolCall(item.call_id, item.name, item.arguments or "{}") for item in response.output
                      if item.type == "function_call")
        details = response.incomplete_details
        if not text.strip() and not calls and details is not None and details.reason == "max_output_tokens":
            raise _cut_off(body, usage.output_tokens_details if usage else None)
        message = {"role": "assistant", "content": text or None, "tool_calls": [call.wire() for call in calls],
                   "items": [item.model_dump(mode="json", exclude_none=True) for item in response.output]}
        return Completion(text, usage.input_tokens if usage else 0, usage.output_tokens if usage else 0,
                          calls=calls, message=message if calls else None)


def _renamed(body: dict[str, Any]) -> dict[str, Any]:
    """Chat completions' parameters as the Responses API names them: max_output_tokens, reasoning.effort, text.verbosity."""
    request = {name: value for name, value in body.items() if name not in (*CAPS, "reasoning_effort", "verbosity")}
    request["max_output_tokens"] = next(body[name] for name in CAPS if name in body)
    if "reasoning_effort" in body:
        request["reasoning"] = {"effort": body["reasoning_effort"]}
    if "verbosity" in body:
        request["text"] = {"verbosity": body["verbosity"]}
    return request


def _items(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One chat message as Responses input items."""
    if message["role"] == "tool":
        yield {"type": "function_call_output", "call_id": message["tool_call_id"], "output": message["content"]}
    elif "items" in message:
        yield from message["items"]  # this API's own output, sent back as it came
    elif message.get("tool_calls"):  # a round a chat completions model began, resumed here
        yield from ({"type": "function_call", "call_id": call["id"], "name": call["function"]["name"],
                     "arguments": call["function"]["arguments"]} for call in message["tool_calls"])
    else:
        yield {"role": message["role"], "content": _content(message["content"])}


def _content(content: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """A message's text as it is; its content parts (bot.media.parts) as this API's input_text and input_image."""
    if isinstance(content, str):
        return content
    return [{"type": "input_image", "image_url": part["image_url"]["url"], "detail": part["image_url"].get("detail", "auto")}
            if part["type"] == "image_url" else {"type": "input_text", "text": part["text"]} for part in content]
