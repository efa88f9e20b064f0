"""Logging: one JSON object per line (the default), with each event's fields; or plain text for reading locally."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any, Iterable, Mapping
from urllib.parse import unquote

# What every LogRecord has: anything else was passed in `extra` and belongs in the line.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: time, level, logger, message, then the event's own fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update({key: value for key, value in vars(record).items() if key not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


# C0 and C1 controls (CR, LF, ESC, ...), DEL, and Unicode's line and paragraph separators: what could start a forged line
# or rewrite a terminal when a caller's text (a URL path, a header) is logged.
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """`text` with every control character written as its escape (\\r, \\n, \\x1b): nothing a caller sent can forge a line."""
    return CONTROLS.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


def loggable_path(url: str) -> str:
    """A URL's path as logs may show it: no query (Meta's hub.verify_token, the chat page's session ids), and no key of a
    URL that carries one (/events/mailchimp/<key>, however its slash is encoded)."""
    path = url.split("?", 1)[0]
    parts = unquote(path).split("/", 3)  # "", "events", source, key
    return f"/events/{parts[2]}/<key>" if len(parts) == 4 and parts[1] == "events" else path


class TextFormatter(logging.Formatter):
    """Plain text for reading by eye: a record is one line, but for its traceback, whose lines are indented."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    """Each line indented and escaped: no line of a traceback (an exception's message may hold a caller's text) can
    start at the margin, where records start."""
    return "\n".join("    " + escape_controls(line) for line in text.split("\n"))


# Names of settings and payload fields whose values are secret: the logs blank them out, kept payloads remove them.
# MAX_TOKENS and the like are counts; SID is Twilio's account id, AUTH and SIGNATURE the credentials around it;
# TOOL_ variables are what tool files may send (headers, URLs): secret, whatever their names.
SECRET_NAMES = re.compile(r"token(?!s)|secret|signature|password|auth|key|sid|^tool_", re.IGNORECASE)
MIN_SECRET = 6  # shorter values (a flag such as SOME_KEY=1) would blank out every "1" in the logs
URL_PASSWORD = re.compile(r"://[^/:@\s]*:([^/@\s]+)@")  # rediss://:<password>@host


class _Handler(logging.StreamHandler):
    """The bot's own handler on the root logger: it blanks out secrets, whichever library logs them.

    (A library's debug line may hold a URL with a token in it, such as Telegram's /bot<token>/.)
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        for secret in self.secrets:
            line = line.replace(secret, "[secret]")
        return line


def secrets_in(environ: Mapping[str, str]) -> list[str]:
    """The values of every setting whose name says it is secret (TELEGRAM_BOT_TOKEN), and the passwords in URLs (REDIS_URL).

    A password is blanked out whatever its length: a short one is weak, not public.
    """
    named = [value for name, value in environ.items() if SECRET_NAMES.search(name)
             and (len(value) >= MIN_SECRET or value and name.upper().endswith("PASSWORD"))]
    passwords = [password for value in environ.values() for password in URL_PASSWORD.findall(value)]
    return named + [password for password in passwords if len(password) >= MIN_SECRET]


def configure(level: str, fmt: str, secrets: Iterable[str] = ()) -> None:
    """Log to stderr from the root logger: LOG_FORMAT json (the default) or text, secrets blanked out."""
    root = logging.getLogger()
    root.setLevel(level)
    ours = [handler for handler in root.handlers if isinstance(handler, _Handler)]
    if ours:  # several apps in one process (tests): one handler, knowing every app's secrets
        ours[0].secrets = sorted(set(ours[0].secrets) | set(secrets), key=len, reverse=True)
        return
    handler = _Handler(secrets)
    handler.setFormatter(TextFormatter() if fmt == "text" else JsonFormatter())
    root.addHandler(handler)
