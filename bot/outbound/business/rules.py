"""Which business event becomes which message: prompts/events.yaml, read again for every event (hot-reloaded).

    stripe:
      payment_intent.succeeded:
        to: "{{ data.object.metadata.conversation }}"   # <platform>:<id>, as the API takes it
        prompt: examples/payment-received.md            # or text: "Payment of {{ ... }} received."

`to`, `text` and a message template's parameters are Jinja2 templates over the event's payload, rendered in a sandbox
where a missing field is an error, never an empty string.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

from bot.config import Config
from bot.outbound.proactive import template as checked_template
from bot.prompts import RENDER_ERRORS

SOURCES = ("stripe", "shopify", "github", "paypal", "hubspot", "mailchimp")
_TEMPLATES = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


class RuleError(ValueError):
    """A rule that cannot be used: the message names the file, the rule and what is wrong."""


@dataclass(frozen=True)
class Rule:
    """What to send for one source's event type, and to whom."""

    to: str  # a template making the conversation, <platform>:<id>
    text: str | None = None  # a template making the message itself
    prompt: str | None = None  # or a prompt file whose template the LLM writes the message from
    template: dict[str, Any] | None = None  # what goes past the reply window: {name, language, parameters} and/or {tag}

    def recipient(self, values: dict[str, Any]) -> str:
        """The conversation `to` names for these values; "" when it names none (a field missing, or empty)."""
        try:
            return render(self.to, values).strip()
        except RENDER_ERRORS:
            return ""

    def message(self, values: dict[str, Any]) -> str | None:
        """The literal text, rendered; None when a prompt writes it. Raises RuleError."""
        if self.text is None:
            return None
        try:
            return render(self.text, values)
        except RENDER_ERRORS as error:
            raise RuleError(f"text: {error}") from None

    def message_template(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """The message template with its parameters rendered over these values; None without one. Raises RuleError."""
        if self.template is None:
            return None
        parameters = self.template["parameters"]
        try:
            filled = ({name: render(value, values) for name, value in parameters.items()} if isinstance(parameters, dict)
                      else [render(value, values) for value in parameters])
        except RENDER_ERRORS as error:
            raise RuleError(f"template parameters: {error}") from None
        return {**self.template, "parameters": filled}


@functools.lru_cache(maxsize=256)  # the file is read for every event; each template compiled once
def _compiled(source: str) -> jinja2.Template:
    return _TEMPLATES.from_string(source)


def render(source: str, values: dict[str, Any]) -> str:
    """A rule's template rendered in the sandbox; raises one of RENDER_ERRORS."""
    return _compiled(source).render(values)  # not **values: a payload's field may be named `self`


def load(path: Path) -> dict[str, dict[str, Rule]]:
    """Every rule in the file, by source and event type ({} without a file); raises RuleError saying what is wrong."""
    if not path.is_file():
        return {}
    try:
        found = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise RuleError(f"{path}: {error}") from None
    if not isinstance(found, dict):
        raise RuleError(f"{path}: expected `<source>: {{<event type>: rule}}`")
    return {source: _rules(path, source, kinds) for source, kinds in found.items()}


def _rules(path: Path, source: Any, kinds: Any) -> dict[str, Rule]:
    if source not in SOURCES:
        raise RuleError(f"{path}: unknown source {source!r}; known: {', '.join(SOURCES)}")
    if not isinstance(kinds, dict):
        raise RuleError(f"{path}: {source}: expected `<event type>: rule` entries")
    return {str(kind): _rule(f"{path}: {source} {kind}", entry) for kind, entry in kinds.items()}


def _rule(where: str, entry: Any) -> Rule:
    try:
        rule = Rule(**entry)
    except TypeError as error:
        raise RuleError(f"{where}: {error}") from None
    if not isinstance(rule.to, str) or not all(isinstance(value, (str, type(None))) for value in (rule.text, rule.prompt)):
        raise RuleError(f"{where}: to, text and prompt must be strings")
    if (rule.text is None) == (rule.prompt is None):
        raise RuleError(f"{where}: give either text or prompt")
    if rule.template is not None:
        rule = _with_template(where, rule)
    for name, source in (("to", rule.to), ("text", rule.text), *_parameters(rule.template)):
        try:
            _compiled(source or "")
        except jinja2.TemplateSyntaxError as error:
            raise RuleError(f"{where}: {name}: {error}") from None
    return rule


def _with_template(where: str, rule: Rule) -> Rule:
    try:
        return dataclasses.replace(rule, template=checked_template(rule.template))
    except ValueError as error:
        raise RuleError(f"{where}: template: {error}") from None


def _parameters(template: dict[str, Any] | None) -> list[tuple[str, str]]:
    parameters = (template or {}).get("parameters", [])
    named = parameters.items() if isinstance(parameters, dict) else enumerate(parameters)
    return [(f"template parameter {name}", value) for name, value in named]


def rules_file(config: Config) -> Path:
    """The rules file: EVENT_RULES_FILE, in PROMPTS_DIR unless absolute, so that the rules and their prompts move together."""
    return Path(config.prompts_dir) / config.event_rules_file


def find(rules: dict[str, dict[str, Rule]], source: str, kind: str) -> Rule | None:
    """The rule for the source's event type, if any."""
    return rules.get(source, {}).get(kind)


def problems(path: Path, prompts_dir: Path) -> list[str]:
    """What is wrong with the rules file and the prompts it names, for `flask prompts check`."""
    try:
        rules = load(path)
    except RuleError as error:
        return [str(error)]
    return [f"{path}: {source} {kind}: prompt {rule.prompt} does not exist" for source, kinds in rules.items()
            for kind, rule in kinds.items() if rule.prompt and not (prompts_dir / rule.prompt).is_file()]
