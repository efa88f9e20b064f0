"""MCP servers' tools, through the official `mcp` SDK over streamable HTTP: listed, cached, refreshed, called.

Each listing or call is one short session on its own event loop (the worker's turns run on threads); the address
each connection reaches is checked against the allowlist before a byte is sent, as for webhook tools. The SDK is
imported on first use: half a second that processes without MCP servers never spend.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import urllib.request
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Mapping

import anyio
import httpx2
from urllib3.util import Url

from bot.errors import BotError, Permanent, Transient, Unconfirmed
from bot.tools.files import Server, Tool, expand, unset
from bot.tools.webhook import RESULT_BYTES, Guard

logger = logging.getLogger(__name__)

LISTING_SECONDS = 300  # a server's tools are listed again this long after the last listing
RETRY_SECONDS = 30  # after a failed listing: the last one serves meanwhile (or none), and no turn waits on it again
UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
PeerRefusal = Callable[[Url, str], "str | None"]


def exposed(server: str, name: str) -> str:
    """The name the model sees for a server's tool: server__tool, in the characters and length OpenAI takes."""
    full = f"{server}__{UNSAFE.sub('_', name)}"
    return full if len(full) <= 64 else full[:55] + "_" + hashlib.sha256(full.encode()).hexdigest()[:8]


class MCP:
    """The tools of the MCP servers, each server's listing kept for LISTING_SECONDS in this process."""

    def __init__(self, guard: Guard, peer_refusal: PeerRefusal, env: Mapping[str, str], timeout: float) -> None:
        self.guard, self.peer_refusal, self.env, self.timeout = guard, peer_refusal, env, timeout
        self.listings: dict[tuple[str, str], tuple[float, list[Tool]]] = {}  # (name, url) -> (listed again after, tools)
        self.lock = threading.Lock()  # the worker's slots share the listings

    def tools(self, server: Server) -> list[Tool]:
        """The server's tools, from the last listing if it is recent; [] while it cannot be listed and never was."""
        key = (server.name, server.url)
        with self.lock:
            due, tools = self.listings.get(key, (0.0, []))
        if time.monotonic() < due:
            return tools
        try:
            tools, due = anyio.run(self._list, server), time.monotonic() + LISTING_SECONDS
        except BotError as error:
            logger.error("MCP server %s not listed (%s): its tools are %s. Check its url and headers in mcp.yaml, "
                         "and TOOLS_ALLOWLIST.", server.name, error, "the last ones listed" if tools else "not offered")
            due = time.monotonic() + RETRY_SECONDS
        with self.lock:
            self.listings[key] = (due, tools)
        return tools

    def call(self, server: Server, tool: Tool, arguments: dict[str, Any]) -> str:
        """The tool's result as text, cut to RESULT_BYTES; raises Transient, Unconfirmed (sent, no answer) or Permanent."""
        return anyio.run(self._call, server, tool, arguments)

    async def _list(self, server: Server) -> list[Tool]:
        async with self._client(server, unsure=False) as client:
            listed = (await client.list_tools()).tools
        return [Tool(exposed(server.name, item.name), item.description or "", item.input_schema or {"type": "object"},
                     _idempotent(item.annotations), server.timeout, server=server.name, remote=item.name) for item in listed]

    async def _call(self, server: Server, tool: Tool, arguments: dict[str, Any]) -> str:
        async with self._client(server, unsure=True) as client:
            result = await client.call_tool(tool.remote, arguments)
        text = _text(result.content, result.structured_content)
        if result.is_error:
            raise Permanent(text or "it reported an error", kind="tool_error")
        raw = text.encode()
        return raw[:RESULT_BYTES].decode("utf-8", "ignore") + (" [cut: the tool said more]" if len(raw) > RESULT_BYTES else "")

    @asynccontextmanager
    async def _client(self, server: Server, unsure: bool) -> AsyncIterator[Any]:
        """A session with the server, its failures raised as the bot's errors: once a call may have reached the
        server (`unsure`), a timeout is Unconfirmed."""
        missing = unset(server.url + "".join(server.headers.values()), self.env)
        if missing:
            raise Permanent(f"it is not configured: set {', '.join(missing)}", kind="config")
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        url, timeout = expand(server.url, self.env), server.timeout or self.timeout
        if reason := self.guard.refusal(url):
            raise Permanent(reason, kind="refused")
        headers = {name: expand(value, self.env) for name, value in server.headers.items()}
        hooks = {"request": [_checking(self.peer_refusal, httpx2.URL(url))]}
        try:
            with anyio.fail_after(timeout):
                async with (httpx2.AsyncClient(headers=headers, timeout=timeout, event_hooks=hooks) as http,
                            Client(streamable_http_client(url, http_client=http), read_timeout_seconds=timeout) as client):
                    yield client
        except Exception as error:  # the SDK's task groups wrap what went wrong in exception groups
            mapped = _mapped(_first(error), unsure, timeout)
            if mapped is error:
                raise
            raise mapped from error


def _checking(refusal: PeerRefusal, url: httpx2.URL) -> Callable[[httpx2.Request], Any]:
    """A request hook that has each new connection check the address it reached, before TLS or a byte of the request.
    (Through a proxy, the proxy resolves names, and nothing is checked: as for webhook tools.)"""
    async def trace(event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            stream = info["return_value"]
            address, port = stream.get_extra_info("server_addr")[:2]
            if reason := refusal(Url(url.scheme, host=url.host, port=port), address):
                await stream.aclose()
                raise Permanent(reason, kind="refused")

    async def hook(request: httpx2.Request) -> None:
        if not urllib.request.getproxies().get(url.scheme) or urllib.request.proxy_bypass(url.host):
            request.extensions["trace"] = trace

    return hook


def _first(error: BaseException) -> BaseException:
    """The first error an exception group holds, however deep; the error itself if it is none."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _mapped(error: BaseException, unsure: bool, timeout: float) -> BaseException:
    from mcp import MCPError

    if isinstance(error, BotError) or not isinstance(error, Exception):
        return error  # ours already, or a cancellation or interrupt: not the server's failure
    if isinstance(error, (TimeoutError, httpx2.TimeoutException)) or "timed out" in str(error).lower():
        return Unconfirmed(f"it did not answer within {timeout:g} s") if unsure else Transient("it timed out", kind="timeout")
    if isinstance(error, httpx2.TransportError):
        return Transient(f"it is unreachable ({type(error).__name__})", kind="connection")
    if isinstance(error, httpx2.HTTPStatusError):
        status = error.response.status_code
        return Transient(f"it answered {status}", kind="server") if status == 429 or status >= 500 else \
            Permanent(f"it answered {status}")
    if isinstance(error, MCPError):
        return Permanent(f"it refused the call: {error}")
    return Permanent(f"it failed: {type(error).__name__}: {error}")


def _idempotent(annotations: Any) -> bool:
    """Whether the server says a repeated call changes nothing more: idempotentHint, or readOnlyHint; absent, no."""
    return bool(annotations and (annotations.idempotent_hint or annotations.read_only_hint))


def _text(content: list[Any], structured: Any) -> str:
    """A result's text parts, joined; its structured content as JSON when it has no text."""
    texts = [block.text for block in content if getattr(block, "type", "") == "text"]
    if texts:
        return "\n".join(texts)
    return json.dumps(structured) if structured is not None else "(the tool returned nothing)"
