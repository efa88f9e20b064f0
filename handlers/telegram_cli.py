"""Telegram from the command line: long polling for development (`flask webhook` manages the webhook)."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from bot.errors import Rejected
from handlers.base import validate_payload
from handlers.telegram import ALLOWED_UPDATES, UPDATE, Telegram
from handlers.webhook_cli import call_platform, enabled_adapter

POLL_SECONDS = 25  # how long one getUpdates call waits for updates

cli = AppGroup("telegram", help="Poll Telegram for updates, for development without a webhook.")


def _call(method: str, payload: dict[str, Any]) -> Any:
    return call_platform(enabled_adapter(Telegram.name).call, method, payload)


@cli.command("poll")
@click.option("--once", is_flag=True, help="One getUpdates call, then exit.")
def poll(once: bool) -> None:
    """Fetch updates with getUpdates (no public URL needed) and feed them to the same intake as the webhook."""
    if call_platform(enabled_adapter(Telegram.name).show_webhook).get("url"):
        raise click.ClickException("a webhook is set, and Telegram refuses getUpdates while it is: "
                                   "run `flask --app app webhook delete telegram` first")
    click.echo("Polling Telegram for updates (Ctrl-C stops).")
    offset = 0
    while True:
        updates = _call("getUpdates", {"offset": offset, "timeout": 0 if once else POLL_SECONDS,
                                       "allowed_updates": ALLOWED_UPDATES})
        for update in updates:
            _accept(update)
            offset = max(offset, update["update_id"] + 1)  # confirms it at the next call
        if once:
            return


def _accept(update: dict[str, Any]) -> None:
    """The webhook's own path for one update: validate, parse, dedupe, store, enqueue."""
    adapter, rt = enabled_adapter(Telegram.name), current_app.extensions["bot"]
    try:
        messages = adapter.messages(validate_payload(UPDATE, update))
    except Rejected as error:  # a bad update is skipped, not retried forever
        click.echo(f"skipped update {update.get('update_id')}: {error}", err=True)
        return
    for message in messages:
        rt.turns.accept(message, adapter.dedupe_ttl)
