"""Which tools a prompt offers: its tool files, read at every turn (a broken one serves its last good version, kept in
Redis), the MCP servers' tools, and the built-in handoff; and the checks `flask --app app prompts check` makes of them.

A prompt's tool files are in the `tools/` folder beside it, else in the prompts directory's own `tools/`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, TypeVar

from redis import Redis
from redis.exceptions import RedisError

from bot import keys
from bot.config import Config
from bot.errors import Permanent
from bot.prompts import PromptError, compile_prompt
from bot.signing import standard_key
from bot.tools import files
from bot.tools.files import HANDOFF, HANDOFF_TOOL, Server, Tool, ToolFileError
from bot.tools.mcp import MCP, PeerRefusal
from bot.tools.webhook import HTTP, Guard, Webhooks

logger = logging.getLogger(__name__)

MCP_FILE = "mcp.yaml"
MIN_KEY_BYTES = 24  # Standard Webhooks' shortest secret
T = TypeVar("T")


class Tools:
    """The tools prompts may offer, and the clients that call them."""

    def __init__(self, config: Config, redis: Redis, guard: Guard, http: HTTP, peer_refusal: PeerRefusal) -> None:
        self.directory, self.redis, self.config, self.guard = Path(config.prompts_dir), redis, config, guard
        self.webhooks = Webhooks(http, guard, config.tools_webhook_secret, config.env, config.tools_timeout)
        self.mcp = MCP(guard, peer_refusal, config.env, config.tools_timeout)
        self._stored: dict[str, str] = {}  # the source this process last stored as each file's last good version

    def offer(self, prompt: str, names: list[str]) -> dict[str, Tool]:
        """The tools a prompt's front matter names, by the name the model sees; one not found is left out, loudly."""
        offered: dict[str, Tool] = {}
        for name in names:
            found = self._named(prompt, str(name))
            if not found:
                logger.error("prompt %s names the tool %s, which is not there (or its MCP server lists nothing now): "
                             "`flask --app app prompts check` says more", prompt, name)
            offered.update((tool.name, tool) for tool in found)
        return offered

    def call(self, tool: Tool, arguments: dict[str, Any], call_id: str, context: dict[str, str]) -> str:
        """Call a webhook or MCP tool: its result as text; raises Transient, Unconfirmed or Permanent."""
        if not tool.server:
            return self.webhooks.call(tool, arguments, call_id, context)
        server = self._servers().get(tool.server)
        if server is None:
            raise Permanent(f"its MCP server {tool.server} is no longer in {MCP_FILE}", kind="config")
        return self.mcp.call(server, tool, arguments)

    def _named(self, prompt: str, name: str) -> list[Tool]:
        if name == HANDOFF:
            return [HANDOFF_TOOL]
        if label := self._file_of(prompt, name):
            tool = self._read(label, lambda label, source: files.tool(label, name, source))
            return [tool] if tool else []
        servers = self._servers()
        if name in servers:
            return self.mcp.tools(servers[name])
        server = servers.get(name.split("__", 1)[0])
        return [tool for tool in self.mcp.tools(server) if tool.name == name] if server and "__" in name else []

    def _file_of(self, prompt: str, name: str) -> str | None:
        """The tool file of that name for the prompt, relative to the prompts directory: beside it, else at the top."""
        if not files.NAME.fullmatch(name):
            return None
        places = (Path(prompt).parent / "tools" / f"{name}.yaml", Path("tools") / f"{name}.yaml")
        return next((str(label) for label in places if (self.directory / label).is_file()), None)

    def _servers(self) -> dict[str, Server]:
        return (self._read(MCP_FILE, files.servers) if (self.directory / MCP_FILE).is_file() else None) or {}

    def _read(self, label: str, parse: Callable[[str, str], T]) -> T | None:
        """The file parsed; if it is broken, its last good version, loudly; None without one."""
        try:
            source = (self.directory / label).read_text(encoding="utf-8")
            parsed = parse(label, source)
        except (OSError, ToolFileError) as error:
            logger.error("TOOL FILE BROKEN, serving its last good version: %s. Fix the file; `flask --app app prompts check` "
                         "shows every problem.", error)
            stored = self.redis.get(keys.tool_file(label))
            return parse(label, stored.decode()) if stored else None
        if self._stored.get(label) != source:
            try:
                self.redis.set(keys.tool_file(label), source)
                self._stored[label] = source
            except RedisError:
                pass  # only the fallback is lost; the turn goes on
        return parsed

    def problems(self) -> tuple[list[str], list[str]]:
        """What is wrong with the tool files, mcp.yaml and the prompts' `tools:` (problems), and what is not set up yet
        (warnings): one sentence each, for `flask prompts check`."""
        problems: list[str] = []
        warnings: list[str] = []
        webhooks = False
        for path in sorted(path for path in self.directory.rglob("*.yaml") if path.parent.name == "tools"):
            label = str(path.relative_to(self.directory))
            try:
                tool = files.tool(label, path.stem, path.read_text(encoding="utf-8"))
            except ToolFileError as error:
                problems.append(str(error))
                continue
            webhooks = True
            self._check_url(label, tool.url + "".join(tool.headers.values()), tool.url, problems, warnings)
        servers = self._check_servers(problems, warnings)
        problems += self._secret_problems(webhooks, warnings) + self._prompt_problems(servers)
        return problems, warnings

    def _check_servers(self, problems: list[str], warnings: list[str]) -> dict[str, Server]:
        path = self.directory / MCP_FILE
        if not path.is_file():
            return {}
        try:
            servers = files.servers(MCP_FILE, path.read_text(encoding="utf-8"))
        except ToolFileError as error:
            problems.append(str(error))
            return {}
        for server in servers.values():
            self._check_url(f"{MCP_FILE}: server {server.name}", server.url + "".join(server.headers.values()), server.url,
                            problems, warnings)
        return servers

    def _check_url(self, where: str, text: str, url: str, problems: list[str], warnings: list[str]) -> None:
        """A URL off the allowlist is a problem; a TOOL_ variable not set, a warning (the tool fails until it is)."""
        if missing := files.unset(text, self.config.env):
            warnings.append(f"{where}: {', '.join(missing)} not set: the tool fails until it is")
        if not files.unset(url, self.config.env) and (reason := self.guard.refusal(files.expand(url, self.config.env))):
            problems.append(f"{where}: {reason}")

    def _secret_problems(self, webhooks: bool, warnings: list[str]) -> list[str]:
        secret = self.config.tools_webhook_secret
        if not secret:
            warnings += ["TOOLS_WEBHOOK_SECRET is not set: webhook tools fail until it is"] if webhooks else []
            return []
        try:
            key = standard_key(secret)
        except ValueError:
            key = b""
        return [] if len(key) >= MIN_KEY_BYTES else [
            "TOOLS_WEBHOOK_SECRET must be whsec_ followed by the base64 of 24 to 64 random bytes; make one with: python -c "
            "\"import base64, secrets; print('whsec_' + base64.b64encode(secrets.token_bytes(32)).decode())\""]

    def _prompt_problems(self, servers: dict[str, Server]) -> list[str]:
        """Each tool a prompt names that is no tool file, no MCP server (or server__tool) and not handoff."""
        found = []
        for path in sorted(self.directory.rglob("*.md")):
            label = str(path.relative_to(self.directory))
            try:
                names = compile_prompt(label, path.read_text(encoding="utf-8"))[0].get("tools", [])
            except PromptError:
                continue  # Prompts.problems reports it
            found += [f"{label}: tools: {name} is not handoff, a tool file (tools/{name}.yaml) nor an MCP server of "
                      f"{MCP_FILE} (or one's server__tool)" for name in names if not self._known(label, name, servers)]
        return found

    def _known(self, prompt: str, name: Any, servers: dict[str, Server]) -> bool:
        if not isinstance(name, str):
            return False
        return name == HANDOFF or bool(self._file_of(prompt, name)) or name.split("__", 1)[0] in servers
