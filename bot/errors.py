"""The short, flat list of errors that cross module boundaries."""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot raises on purpose; `kind` names the failure for metrics (e.g. rate_limited)."""

    def __init__(self, message: str = "", kind: str = "") -> None:
        super().__init__(message)
        self.kind = kind


class Transient(BotError):
    """A call that may succeed if retried: timeouts, connection errors, 429, 5xx."""

    def __init__(self, message: str, retry_after: float | None = None, kind: str = "") -> None:
        super().__init__(message, kind)
        self.retry_after = retry_after


class Unconfirmed(Transient):
    """A request that was sent but whose answer never came in time: it may have been carried out."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="unconfirmed")


class Permanent(BotError):
    """A call that will fail the same way again: bad credentials, invalid request, blocked by the user."""


class FormattingRejected(Permanent):
    """The platform refused the part's formatting; the plain text may still go through."""


class Rejected(BotError):
    """An inbound request we refuse; `status` is the HTTP answer and the message says why."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status or self.status
