"""Tool files: one tool a file (tools/<name>.yaml), and the MCP servers (mcp.yaml), read and checked.

A file may name environment variables as ${TOOL_...} in its URL and headers, and no others: a prompt edit can
never send the bot's own secrets anywhere.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}\Z")  # the function names OpenAI takes (and Anthropic, and Claude Desktop)
SERVER_NAME = re.compile(r"[A-Za-z0-9]+([_-][A-Za-z0-9]+)*\Z")  # never "__", which joins a server's name to its tools'
VARIABLE = re.compile(r"\$\{([^}]*)\}")
PREFIX = "TOOL_"
HANDOFF = "handoff"  # the built-in tool
NO_ARGUMENTS = {"type": "object", "properties": {}}
TOOL_FIELDS = {"description": str, "parameters": dict, "url": str, "timeout": (int, float), "idempotent": bool, "headers": dict}
SERVER_FIELDS = {"url": str, "headers": dict, "timeout": (int, float)}


class ToolFileError(ValueError):
    """A tool file, or mcp.yaml, that cannot be used: the message names the file and what is wrong."""


@dataclass(frozen=True)
class Tool:
    """A function the model may call, and where a call goes: a webhook's URL, or an MCP server's tool."""

    name: str  # as the model sees it
    description: str
    parameters: dict[str, Any]  # the JSON Schema of its arguments
    idempotent: bool = False  # a second call with the same arguments changes nothing more: it may be retried
    timeout: float | None = None  # seconds; None: TOOLS_TIMEOUT
    url: str = ""  # a webhook tool's endpoint
    headers: dict[str, str] = field(default_factory=dict)
    server: str = ""  # an MCP tool's server, as mcp.yaml names it
    remote: str = ""  # and the tool's name on that server

    def definition(self) -> dict[str, Any]:
        """The function as chat completions offers it to the model."""
        function = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}


@dataclass(frozen=True)
class Server:
    """An MCP server of mcp.yaml, reached over streamable HTTP."""

    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None


HANDOFF_TOOL = Tool(HANDOFF, "Hand the conversation to a person: when the user asks for one, or you cannot help them.",
                    {"type": "object", "properties": {"reason": {"type": "string", "description": "Why, in a few words."}}},
                    idempotent=True)


@functools.lru_cache(maxsize=256)  # read at every turn, parsed again only when the file changed
def tool(label: str, name: str, source: str) -> Tool:
    """The tool the file `label` defines under `name`, its file name; raises ToolFileError."""
    if not NAME.fullmatch(name) or "__" in name or name == HANDOFF:
        raise ToolFileError(f"{label}: a tool's file name must be 1 to 64 letters, digits, _ or - (never __), and not {HANDOFF}")
    data = _mapping(label, yaml_of(label, source), TOOL_FIELDS, required=("description", "url"))
    from jsonschema.exceptions import SchemaError  # a tenth of a second at start-up, for processes that call no tool
    from jsonschema.validators import validator_for

    parameters = data.get("parameters", NO_ARGUMENTS)
    if parameters.get("type") != "object":
        raise ToolFileError(f"{label}: parameters must be a JSON Schema of type object (the arguments are named)")
    try:
        validator_for(parameters).check_schema(parameters)
    except SchemaError as error:
        raise ToolFileError(f"{label}: parameters is not a valid JSON Schema: {error.message}") from None
    return Tool(name, data["description"], parameters, data.get("idempotent", False), _timeout(label, data),
                data["url"], _headers(label, data))


@functools.lru_cache(maxsize=8)
def servers(label: str, source: str) -> dict[str, Server]:
    """The MCP servers listed under `servers:` in the file `label`; raises ToolFileError."""
    listed = _mapping(label, yaml_of(label, source), {"servers": dict}).get("servers", {})
    found = {}
    for name, entry in listed.items():
        where = f"{label}: server {name}"
        if not isinstance(name, str) or not SERVER_NAME.fullmatch(name) or len(name) > 32:
            raise ToolFileError(f"{where}: a server's name must be up to 32 letters or digits, joined by single _ or -")
        data = _mapping(where, entry, SERVER_FIELDS, required=("url",))
        found[name] = Server(name, data["url"], _headers(where, data), _timeout(where, data))
    return found


def yaml_of(label: str, source: str) -> Any:
    """The file's YAML; raises ToolFileError."""
    try:
        return yaml.safe_load(source)
    except yaml.YAMLError as error:
        raise ToolFileError(f"{label}: {error}") from None


def _mapping(where: str, data: Any, known: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """`data` checked as `key: value` lines with the known keys only, of their types, the required ones present."""
    if not isinstance(data, dict):
        raise ToolFileError(f"{where}: must be `key: value` lines")
    for key, value in data.items():
        if key not in known:
            raise ToolFileError(f"{where}: unknown field {key!r}; known: {', '.join(known)}")
        kinds = known[key] if isinstance(known[key], tuple) else (known[key],)
        if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
            raise ToolFileError(f"{where}: {key} must be a {' or '.join(kind.__name__ for kind in kinds)}, got {value!r}")
    for key in required:
        if key not in data:
            raise ToolFileError(f"{where}: {key} is missing")
    _variables(where, data.get("url", ""))
    return data


def _timeout(where: str, data: dict[str, Any]) -> float | None:
    if "timeout" in data and data["timeout"] <= 0:
        raise ToolFileError(f"{where}: timeout must be a number of seconds above 0")
    return float(data["timeout"]) if "timeout" in data else None


def _headers(where: str, data: dict[str, Any]) -> dict[str, str]:
    headers = data.get("headers", {})
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ToolFileError(f"{where}: headers must be `Name: text` lines, got {name!r}: {value!r}")
        _variables(where, value)
    return headers


def _variables(where: str, text: str) -> None:
    """Refuse a variable other than ${TOOL_...}."""
    for name in VARIABLE.findall(text):
        if not name.startswith(PREFIX):
            raise ToolFileError(f"{where}: may use only variables whose names start with {PREFIX}, not ${{{name}}}")


def unset(text: str, env: Mapping[str, str]) -> list[str]:
    """The variables `text` names that are not set (or empty)."""
    return [name for name in VARIABLE.findall(text) if not env.get(name)]


def expand(text: str, env: Mapping[str, str]) -> str:
    """`text` with each ${TOOL_...} replaced by its value (check `unset` first)."""
    return VARIABLE.sub(lambda match: env[match.group(1)], text)


def arguments(tool: Tool, text: str) -> dict[str, Any]:
    """A call's arguments, checked against the tool's schema; raises ValueError saying what is wrong, for the model."""
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    try:
        value = json.loads(text or "{}")
    except ValueError:
        raise ValueError("its arguments are not valid JSON") from None
    if not isinstance(value, dict):
        raise ValueError("its arguments must be a JSON object")
    error = best_match(validator_for(tool.parameters)(tool.parameters).iter_errors(value))
    if error is not None:
        raise ValueError(f"its arguments do not fit its schema: {error.message}")
    return value
