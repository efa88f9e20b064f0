"""Prompts are files: Markdown with optional YAML front matter, and a Jinja2 template for the body.

The prompt is read at every turn, so an edit applies to the next message without a restart. A
bad edit never takes the bot down: the last version that worked keeps serving (kept in Redis,
so a freshly started worker has it too) and the error is logged loudly.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import yaml
from redis import Redis
from redis.exceptions import RedisError

from bot import keys

logger = logging.getLogger(__name__)

FALLBACK = "You are a helpful assistant. Answer briefly and clearly."
# What front matter may set, and its type: anything else is a mistake worth refusing.
SETTINGS = {"description": str, "model": str, "temperature": float, "max_tokens": int, "reasoning_effort": str,
            "verbosity": str, "history_max_messages": int, "history_max_tokens": int, "greeting": str, "help": str,
            "handoff_phrases": list, "tools": list, "streaming": bool}
NAME_LENGTH = 64  # characters of a user's name in a prompt: room for a full name, not for a paragraph of instructions
_NAME_CATEGORIES = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "So"}  # letters, marks, digits, emoji
_NAME_PUNCTUATION = set("'’-.")
_TAG = re.compile(r"<[^<>]*>")
_LANGUAGE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,4}")  # an IETF tag, such as Telegram's language_code
# What rendering may raise: a template's expressions work on values of any type (an event's {{ amount / 100 }} on a string)
RENDER_ERRORS = (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError)
_TEMPLATES = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


class PromptError(ValueError):
    """A prompt file that cannot be used: the message names the file and what is wrong."""


@dataclass(frozen=True)
class Prompt:
    """A system prompt ready for a turn, with the settings its front matter chose."""

    name: str  # the file, relative to the prompts directory
    version: str  # a hash of the file's content: which prompt said that?
    text: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """name@version, as logs and the outcome ledger show it."""
        return f"{self.name}@{self.version}"


@functools.lru_cache(maxsize=64)  # read at every turn, compiled again only when its text changed (about 1 ms each)
def compile_prompt(name: str, source: str) -> tuple[dict[str, Any], jinja2.Template]:
    """Front-matter settings and the body's template; raises PromptError with the file's name. Callers share the result."""
    front, body = _split(source)
    try:
        settings = yaml.safe_load(front) or {} if front is not None else {}
        template = _TEMPLATES.from_string(body.strip())
    except (yaml.YAMLError, jinja2.TemplateError) as error:
        raise PromptError(f"{name}: {error}") from None
    return _checked(name, settings), template


def _split(source: str) -> tuple[str | None, str]:
    """The front matter (between `---` lines at the very top) and the body."""
    if not source.startswith("---\n"):
        return None, source
    front, marker, body = source[4:].partition("\n---\n")
    return (front, body) if marker else (None, source)


def _checked(name: str, settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise PromptError(f"{name}: the front matter must be `key: value` lines")
    for key, value in settings.items():
        if key not in SETTINGS:
            raise PromptError(f"{name}: unknown front-matter key {key!r}; known: {', '.join(SETTINGS)}")
        if not isinstance(value, SETTINGS[key]) and not (SETTINGS[key] is float and isinstance(value, int)):
            raise PromptError(f"{name}: {key} must be a {SETTINGS[key].__name__}, got {value!r}")
    return settings


def render(name: str, source: str, variables: dict[str, Any]) -> Prompt:
    """The prompt a file makes for these variables; raises PromptError."""
    settings, template = compile_prompt(name, source)
    try:
        text = template.render(variables)  # not **variables: a value may be named `self`
    except RENDER_ERRORS as error:
        raise PromptError(f"{name}: {error}") from None
    return Prompt(name, version(source), text, dict(settings))


def version(source: str) -> str:
    """A prompt file's version: a hash of its content, as its label (name@version) shows it."""
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def sample_variables(timezone: str = "UTC") -> dict[str, Any]:
    """Variables for checking templates: the same names a turn provides."""
    return variables("telegram", "Ada", "en", {"id": "telegram:42"}, timezone)


def variables(platform: str, user_name: str, language: str, conversation: dict[str, Any], timezone: str) -> dict[str, Any]:
    """What a prompt's template may use; the user's name and language as data that cannot read as instructions."""
    now = datetime.now(ZoneInfo(timezone))
    return {"platform": platform, "user_name": display_name(user_name),
            "language": language if _LANGUAGE.fullmatch(language) else "",
            "conversation": conversation, "now": now, "date": now.strftime("%Y-%m-%d"), "time": now.strftime("%H:%M"),
            "timezone": timezone}


def display_name(name: str) -> str:
    """A name as the user gave it, fit for the system prompt: at most NAME_LENGTH characters of one line, without markup.

    Letters, marks, digits, emoji and the apostrophes, hyphens and dots of names are kept; tags are dropped, and every
    other character (control, direction, quotes, brackets, Markdown) becomes a space.
    """
    text = _TAG.sub("", name[:4 * NAME_LENGTH])
    kept = "".join(char if char in _NAME_PUNCTUATION or unicodedata.category(char) in _NAME_CATEGORIES else " " for char in text)
    return " ".join(kept.split())[:NAME_LENGTH].strip()


class Prompts:
    """Picks and renders the prompt for each turn, falling back to the last good version of a broken file."""

    def __init__(self, directory: str, default: str, redis: Redis) -> None:
        self.directory = Path(directory)
        self.default = default
        self.redis = redis
        self._stored: dict[str, str] = {}  # the source this process last stored as each file's last good version

    def pick(self, platform: str) -> str:
        """prompts/<platform>.md if there is one, else PROMPT (default system.md)."""
        own = f"{platform}.md"
        return own if (self.directory / own).is_file() else self.default

    def for_turn(self, platform: str, values: dict[str, Any]) -> Prompt:
        """The prompt for a turn on `platform`, never failing: a broken file falls back to its last good version."""
        name = self.pick(platform)
        try:
            source = (self.directory / name).read_text(encoding="utf-8")
            prompt = render(name, source, values)
        except (OSError, PromptError) as error:
            return self._last_good(name, values, error)
        self._remember(name, source)
        return prompt

    def named(self, name: str, values: dict[str, Any]) -> Prompt:
        """One prompt file by name, such as examples/order-status.md; raises OSError or PromptError."""
        path = (self.directory / name).resolve()
        if self.directory.resolve() not in path.parents:
            raise PromptError(f"{name}: not a file in {self.directory}")
        return render(name, path.read_text(encoding="utf-8"), values)

    def _remember(self, name: str, source: str) -> None:
        if self._stored.get(name) == source:
            return  # stored already: a round trip a turn saved
        try:
            self.redis.set(keys.prompt(name), source)
            self._stored[name] = source
        except RedisError:
            pass  # only the fallback is lost; the turn goes on

    def _last_good(self, name: str, values: dict[str, Any], error: Exception) -> Prompt:
        logger.error("PROMPT BROKEN, serving its last good version: %s. Fix the file; `flask --app app prompts check` "
                     "shows every problem.", error)
        source = self.redis.get(keys.prompt(name))
        if source is None:
            return Prompt("fallback", "builtin", FALLBACK)
        return render(name, source.decode(), values)

    def files(self) -> list[tuple[str, str]]:
        """Every prompt file in the directory, and its version now."""
        return [(str(path.relative_to(self.directory)), version(path.read_text(encoding="utf-8")))
                for path in sorted(self.directory.rglob("*.md"))]

    def problems(self, timezone: str = "UTC") -> list[str]:
        """Every prompt file's problems, one sentence each, for `flask prompts check`."""
        default = self.directory / self.default
        found = [] if default.is_file() else [f"missing {default}: add it or set PROMPT"]
        for path in sorted(self.directory.rglob("*.md")):
            try:
                render(str(path.relative_to(self.directory)), path.read_text(encoding="utf-8"), sample_variables(timezone))
            except PromptError as error:
                found.append(str(error))
        return found
