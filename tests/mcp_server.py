"""A small MCP server made with the official `mcp` SDK, for the tests: `python -m tests.mcp_server PORT LOG`.

It serves streamable HTTP at http://127.0.0.1:PORT/mcp and appends a JSON line to LOG for each HTTP request (its
method and Authorization header) and each tool call (its tool and arguments), so a test can count them.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

LOG = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("mcp-server.log")
server = MCPServer("Shop", log_level="WARNING")


def record(entry: dict[str, Any]) -> None:
    with LOG.open("a") as log:
        log.write(json.dumps(entry) + "\n")


@server.tool(annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True))
def lookup_order(order: str) -> str:
    """Look up an order's status by its number."""
    record({"tool": "lookup_order", "arguments": {"order": order}})
    return f"order {order}: shipped"


@server.tool()
def refund(order: str) -> str:
    """Refund an order; slowly, as payment providers do."""
    record({"tool": "refund", "arguments": {"order": order}})
    time.sleep(3)
    return f"order {order}: refunded"


@server.tool()
def cancel(order: str) -> str:
    """Cancel an order."""
    record({"tool": "cancel", "arguments": {"order": order}})
    raise ToolError(f"order {order} has shipped already")


def recording(app: Any) -> Any:
    """The ASGI app, logging each HTTP request it is sent."""
    async def middleware(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            record({"http": scope["method"], "authorization": headers.get(b"authorization", b"").decode()})
        await app(scope, receive, send)

    return middleware


if __name__ == "__main__":
    app = server.streamable_http_app(json_response=True, stateless_http=True, host="127.0.0.1")
    uvicorn.run(recording(app), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
