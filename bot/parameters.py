"""Which chat-completion parameters each model takes, learned from the servers' refusals and kept for the process.

OpenAI's current models (gpt-5 family, o-series) refuse `max_tokens` ("Use 'max_completion_tokens' instead") and any
temperature but 1; older OpenAI-compatible servers refuse what they do not know (vLLM, LiteLLM) or ignore it
(llama.cpp). A refused parameter is renamed (the output cap, which is never dropped) or left out, and the call made
again at once.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import urlsplit

import openai

from bot.config import ConfigError

logger = logging.getLogger(__name__)

CAPS = ("max_completion_tokens", "max_tokens")  # the output cap under its two names: renamed when refused, never dropped
ADVICE = {  # the parameters that may be left out when refused, and what stops sending them
    "temperature": "remove temperature from the prompt's front matter",
    "top_p": "remove top_p from the prompt's front matter",
    "reasoning_effort": "set OPENAI_REASONING_EFFORT (or the prompt's reasoning_effort) to a value it takes, or empty",
    "verbosity": "remove verbosity from the prompt's front matter",
}
# Reasoning models spend their cap on reasoning before the reply: the tokens added to the cap for it, by effort.
REASONING_ALLOWANCE = {"none": 0, "minimal": 1024, "low": 4096, "medium": 16384, "high": 32768}
MOST_REASONING = 65536  # for xhigh, max and any effort the table does not know
RESPONSES_NAMES = {"reasoning.effort": "reasoning_effort", "text.verbosity": "verbosity"}  # the chat names of its params
_EXTRA_FORBIDDEN = re.compile(r"'extra_forbidden', 'loc': \('body', '(\w+)'\)")  # vLLM before it allowed extra fields
_UNSUPPORTED_PARAMS = re.compile(r"does not support parameters: \[([^\]]*)\]")  # LiteLLM's UnsupportedParamsError


def first_cap(base_url: str, configured: str = "") -> str:
    """The name to send the output cap under until a server refuses it: OPENAI_MAX_TOKENS_PARAMETER, else by server."""
    # OpenAI's API (and Azure's) takes max_completion_tokens from every model and its current models refuse max_tokens.
    # Every other server knows max_tokens, but many silently ignore max_completion_tokens (llama.cpp reads only
    # max_tokens): sent there, the cap would vanish without an error to learn from, so they get max_tokens first.
    if configured and configured not in CAPS:
        raise ConfigError(f"OPENAI_MAX_TOKENS_PARAMETER must be one of {', '.join(CAPS)} or empty, got {configured!r}: "
                          "fix it in the environment.")
    host = urlsplit(base_url).hostname or "api.openai.com"
    openai = host == "api.openai.com" or host.endswith(".openai.azure.com")
    return configured or ("max_completion_tokens" if openai else "max_tokens")


def refused(error: openai.APIStatusError) -> list[str]:
    """The parameters a 400 says the server does not take: OpenAI's `param`, or the names in vLLM's or LiteLLM's message."""
    if error.status_code != 400:
        return []
    if error.code in ("unsupported_parameter", "unsupported_value") and error.param:
        return [RESPONSES_NAMES.get(error.param, error.param)]
    listed = _UNSUPPORTED_PARAMS.findall(error.message)
    return _EXTRA_FORBIDDEN.findall(error.message) + [name for names in listed for name in re.findall(r"'(\w+)'", names)]


class Parameters:
    """The request parameters for each model: what it refused is renamed or left out, for the rest of the process."""

    def __init__(self, cap: str) -> None:
        self.cap = cap
        self.rules: dict[str, dict[str, str]] = {}  # model -> refused parameter -> what to send instead ("" for nothing)
        self.lock = threading.Lock()  # the worker's slots share one LLM

    def body(self, model: str, settings: dict[str, Any], cap: int) -> dict[str, Any]:
        """The request without its messages: `settings` (those empty, or refused, left out) and the cap under the name
        the model takes, with the reasoning allowance when reasoning_effort is sent."""
        rules = self.rules.get(model, {})
        body = {rules.get(name, name): value for name, value in settings.items()
                if value not in (None, "") and rules.get(name, name)}
        if "reasoning_effort" in body:
            cap += REASONING_ALLOWANCE.get(body["reasoning_effort"], MOST_REASONING)
        return {"model": model, **body, rules.get(self.cap, self.cap): cap}

    def learn(self, model: str, body: dict[str, Any], error: openai.APIStatusError) -> bool:
        """Remember what `model` refused in `body`, if it may be renamed or left out; True if the call should be made again."""
        learned = False
        for name in refused(error):
            replacement = next(cap for cap in CAPS if cap != name) if name in CAPS else "" if name in ADVICE else None
            if name in body and replacement is not None:
                learned = self._remember(model, name, replacement) or learned
        return learned

    def _remember(self, model: str, name: str, replacement: str) -> bool:
        with self.lock:
            rules = self.rules.setdefault(model, {})
            if name in rules:
                return True  # another slot learned it meanwhile
            if replacement in rules:
                return False  # both names of the cap refused: nothing left to try
            rules[name] = replacement
        if replacement:
            logger.warning("LLM %s refused %s: sending %s instead from now on. Set OPENAI_MAX_TOKENS_PARAMETER=%s to send "
                           "it from the first call.", model, name, replacement, replacement)
        else:
            logger.warning("LLM %s refused %s: leaving it out from now on, so the model's default applies. To stop "
                           "sending it, %s.", model, name, ADVICE[name])
        return True
