"""`flask webhook set | show | delete PLATFORM`: a platform's webhook, through its API where it has one."""

from __future__ import annotations

from typing import Any, Callable

import click
from flask.cli import AppGroup

from bot.errors import BotError
from bot.runtime import app_runtime
from handlers.platforms.base import Adapter
from handlers.platforms.registry import ADAPTERS

cli = AppGroup("webhook", help="Set, show or delete a platform's webhook through the platform's API.")
PLATFORM = click.argument("platform", type=click.Choice(list(ADAPTERS)), metavar="PLATFORM")


@cli.command("set", short_help="Point PLATFORM's webhook at this app.")
@PLATFORM
@click.argument("public_url", required=False)
def set_webhook(platform: str, public_url: str | None) -> None:
    """Point PLATFORM's webhook at PUBLIC_URL (default: PUBLIC_BASE_URL) + /webhooks/PLATFORM."""
    adapter = _adapter(platform)
    url = _webhook_url(platform, public_url or adapter.config.setting("PUBLIC_BASE_URL"))
    call_platform(adapter.set_webhook, url)
    click.echo(f"Webhook set: {url}")


@cli.command("show")
@PLATFORM
def show_webhook(platform: str) -> None:
    """What PLATFORM reports of its webhook: the URL and its state."""
    info = call_platform(_adapter(platform).show_webhook)
    for name, value in sorted(info.items()):
        click.echo(f"{name}: {value}")
    if not info:
        click.echo("No webhook set.")


@cli.command("delete")
@PLATFORM
def delete_webhook(platform: str) -> None:
    """Remove PLATFORM's webhook, so it stops sending messages here."""
    call_platform(_adapter(platform).delete_webhook)
    click.echo("Webhook deleted.")


def _adapter(platform: str) -> Adapter:
    """The platform's enabled adapter, or one sentence on why these commands cannot serve it."""
    if ADAPTERS[platform].webhook_console:
        raise click.ClickException(ADAPTERS[platform].webhook_console)
    return enabled_adapter(platform)


def enabled_adapter(platform: str) -> Adapter:
    """The platform's adapter, or one sentence on the settings that would enable it (exit status 1)."""
    rt = app_runtime()
    if platform not in rt.channels:
        raise click.ClickException(f"{platform} is not enabled here: set {' and '.join(ADAPTERS[platform].missing(rt.config))}")
    return rt.channels[platform]


def _webhook_url(platform: str, base: str) -> str:
    """The public base URL with the platform's webhook path, added unless it is already there."""
    base, path = base.rstrip("/"), f"/webhooks/{platform}"
    if not base:
        raise click.UsageError("give the public HTTPS URL of this app, or set PUBLIC_BASE_URL")
    return base if base.endswith(path) else base + path


def call_platform(action: Callable[..., Any], *args: Any) -> Any:
    """Call the platform; its refusal becomes one line on stderr and exit status 1."""
    try:
        return action(*args)
    except BotError as error:
        raise click.ClickException(str(error)) from None
