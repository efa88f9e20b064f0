"""Telegram from the command line: long polling for development (`flask webhook` manages the webhook)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import click
from flask.cli import AppGroup

from bot.errors import Rejected, Transient
from bot.retry import backoff
from bot.runtime import app_runtime
from handlers.cli.webhook import call_platform, enabled_adapter
from handlers.platforms.base import validate_payload
from handlers.platforms.telegram import UPDATE, Telegram

POLL_SECONDS = 25  # how long one getUpdates call waits for updates
MAX_DOUBLINGS = 10  # the backoff is at its longest long before; more would overflow its float

cli = AppGroup("telegram", help="Poll Telegram for updates, for development without a webhook.")


@cli.command("poll")
@click.option("--once", is_flag=True, help="One getUpdates call, then exit.")
def poll(once: bool) -> None:
    """Fetch updates with getUpdates (no public URL needed) and feed them to the same intake as the webhook.

    Transient failures are waited out; a refusal (a bad token, a webhook or another poller in the way) stops it.
    """
    adapter = enabled_adapter(Telegram.name)
    click.echo("Polling Telegram for updates (Ctrl-C stops).")
    offset = 0
    while True:
        for update in call_platform(_updates, adapter, offset, 0 if once else POLL_SECONDS):
            _accept(update)
            offset = max(offset, update["update_id"] + 1)  # confirms it at the next call
        if once:
            return


def _updates(adapter: Telegram, offset: int, hold: int) -> list[dict[str, Any]]:
    """getUpdates until Telegram answers: timeouts, connection errors, 5xx and 429 are retried with backoff."""
    for attempt in itertools.count():
        try:
            return adapter.updates(offset, hold)
        except Transient as error:
            delay = backoff(min(attempt, MAX_DOUBLINGS), error, MAX_DOUBLINGS)
            click.echo(f"getUpdates failed, retrying in {delay:.1f}s: {error}", err=True)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _accept(update: dict[str, Any]) -> None:
    """The webhook's own path for one update: validate, parse, dedupe, store, enqueue."""
    adapter, rt = enabled_adapter(Telegram.name), app_runtime()
    try:
        messages = adapter.messages(validate_payload(UPDATE, update))
    except Rejected as error:  # a bad update is skipped, not retried forever
        click.echo(f"skipped update {update.get('update_id')}: {error}", err=True)
        return
    for message in messages:
        rt.turns.accept(message, adapter.dedupe_ttl)
