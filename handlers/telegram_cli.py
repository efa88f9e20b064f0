"""Telegram from the command line: the webhook (set, show, delete), and long polling for development."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from bot.errors import BotError, Rejected
from handlers.base import validate_payload
from handlers.telegram import ALLOWED_UPDATES, UPDATE, Telegram

POLL_SECONDS = 25  # how long one getUpdates call waits for updates

cli = AppGroup("telegram", help="Manage the Telegram bot's webhook, or poll for updates without one.")


@cli.command("set-webhook")
@click.argument("public_url", required=False)
def set_webhook(public_url: str | None) -> None:
    """Point the bot's webhook at PUBLIC_URL (default: PUBLIC_BASE_URL) + /webhooks/telegram."""
    adapter = _adapter()
    base = (public_url or adapter.config.setting("PUBLIC_BASE_URL")).rstrip("/")
    if not base:
        raise click.UsageError("give the public HTTPS URL of this app, or set PUBLIC_BASE_URL")
    url = base if base.endswith("/webhooks/telegram") else f"{base}/webhooks/telegram"
    _call("setWebhook", {"url": url, "secret_token": adapter.secret, "allowed_updates": ALLOWED_UPDATES})
    click.echo(f"Webhook set: {url}")


@cli.command("webhook-info")
def webhook_info() -> None:
    """Show what Telegram knows of the webhook: URL, pending updates, last error."""
    for name, value in sorted(_call("getWebhookInfo", {}).items()):
        click.echo(f"{name}: {value}")


@cli.command("delete-webhook")
def delete_webhook() -> None:
    """Remove the webhook (updates then wait at Telegram for up to 24 h)."""
    _call("deleteWebhook", {})
    click.echo("Webhook deleted.")


def _adapter() -> Telegram:
    adapter = current_app.extensions["bot"].channels.get(Telegram.name)
    if adapter is None:
        raise click.ClickException(f"Telegram is not enabled: set {' and '.join(Telegram.required)}.")
    return adapter


def _call(method: str, payload: dict[str, Any]) -> Any:
    try:
        return _adapter().call(method, payload)
    except BotError as error:
        raise click.ClickException(str(error)) from None


@cli.command("poll")
@click.option("--once", is_flag=True, help="One getUpdates call, then exit.")
def poll(once: bool) -> None:
    """Fetch updates with getUpdates (no public URL needed) and feed them to the same intake as the webhook."""
    if _call("getWebhookInfo", {}).get("url"):
        raise click.ClickException("a webhook is set, and Telegram refuses getUpdates while it is: "
                                   "run `flask --app app telegram delete-webhook` first")
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
    adapter, rt = _adapter(), current_app.extensions["bot"]
    try:
        messages = adapter.messages(validate_payload(UPDATE, update))
    except Rejected as error:  # a bad update is skipped, not retried forever
        click.echo(f"skipped update {update.get('update_id')}: {error}", err=True)
        return
    for message in messages:
        rt.turns.accept(message, adapter.dedupe_ttl)
